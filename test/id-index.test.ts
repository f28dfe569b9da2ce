/** The id → row index the reader uses for task and flow ids (analysis/id-index.ts). */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { IdIndex } from '../analysis/id-index.js';

describe('IdIndex', () => {
  test('answers as a Map would, for dense, sparse, repeated and odd ids (negative, fractional, huge)', () => {
    const id = fc.oneof(fc.nat(10_000), fc.nat(), fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true }), fc.constant(2 ** 60));
    fc.assert(
      fc.property(fc.array(fc.tuple(id, fc.nat(1 << 30)), { maxLength: 300 }), fc.array(id, { maxLength: 50 }), (sets, probes) => {
        const index = new IdIndex();
        const map = new Map<number, number>();
        for (const [key, row] of sets) {
          index.set(key, row);
          map.set(key, row);
        }
        for (const key of [...map.keys(), ...probes]) expect(index.get(key)).toBe(map.get(key) ?? -1);
      }),
      { numRuns: 300 },
    );
  });

  test('a chunk turns from a list into an array past 32 ids, keeping every row', () => {
    const index = new IdIndex();
    for (let i = 0; i < 100; i++) index.set(4096 + i * 7, i);
    for (let i = 0; i < 100; i++) expect(index.get(4096 + i * 7)).toBe(i);
    expect(index.get(4097)).toBe(-1);
    expect(index.get(0)).toBe(-1);
  });
});
