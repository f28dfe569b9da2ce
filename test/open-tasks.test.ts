/**
 * The flight recorder's table of open tasks (runtime/open-tasks.ts): whatever the order tasks end in,
 * and however long some stay open, it holds exactly the tasks created and not ended, oldest first —
 * what a snapshot carries as "began before the trace".
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OpenTasks } from '../runtime/open-tasks.js';

type Step = { kind: 'create'; gap: number } | { kind: 'end'; pick: number };

/** Runs `steps` on an OpenTasks and on a Map (the model); returns both tables' contents. */
function replay(steps: readonly Step[], limit: number): { table: number[][]; model: number[][] } {
  const table = new OpenTasks(limit);
  const model = new Map<number, number[]>();
  let next = 1;
  for (const step of steps) {
    if (step.kind === 'create') {
      next += step.gap;
      const facts = [next, next * 10, next % 7, next - 1, next % 5, next % 3];
      table.add(next, facts[1], facts[2], facts[3], facts[4], facts[5]);
      model.set(next, facts);
      if (model.size > limit) model.delete(model.keys().next().value!);
      next++;
    } else if (model.size > 0) {
      const ids = [...model.keys()];
      const id = ids[step.pick % ids.length]!;
      table.delete(id);
      model.delete(id);
    }
  }
  expect(table.size).toBe(model.size);
  return { table: [...table].map((t) => [t.id, t.ts, t.flow, t.parent, t.type, t.location]), model: [...model.values()] };
}

describe('the open tasks a flight recorder carries', () => {
  it('are those created and not ended, oldest first, in any order of ends and gaps between ids', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), gap: fc.oneof(fc.constant(0), fc.nat(3), fc.nat(5000)) }),
      fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const { table, model } = replay(steps, 100_000);
        expect(table).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('keep a server task open across 200 000 short requests (the ring moves it aside), and forget the oldest past the limit', () => {
    const steps: Step[] = [{ kind: 'create', gap: 0 }];
    // Each request ends after the next one begins; one in a thousand is never ended.
    for (let i = 0; i < 200_000; i++) {
      steps.push({ kind: 'create', gap: 0 });
      if (i % 1000 !== 999) steps.push({ kind: 'end', pick: 1 });
    }
    const { table, model } = replay(steps, 1_000_000);
    expect(table).toEqual(model);

    const big = new OpenTasks(150);
    let leaked = 0;
    for (let id = 1; id <= 200_000; id++) {
      big.add(id, id, 0, 0, 0, 0);
      if (id > 1 && id % 1000 !== 0) big.delete(id);
      else leaked++;
    }
    const kept = [...big].map((t) => t.id);
    expect(leaked).toBe(201);
    expect(kept).toHaveLength(150);
    // The server task (id 1) and the oldest never-ended requests were forgotten first.
    expect(kept[0]).toBe(51_000);
    expect(kept.at(-1)).toBe(200_000);
  });
});
