/**
 * What `tstrace view` computes when: a task's regions, logs and children are grouped only when a task is
 * first asked for (the overview and the timeline need none), and rows already in order are not sorted.
 * The answers are the same whatever is asked first, and a task's items are exactly those its events name.
 */
import { describe, expect, test } from 'vitest';
import { sortRows } from '../analysis/sort-rows.js';
import { background, log, newTask, startRegion } from '../runtime/index.js';
import { loadViewerModel, regionGroupsJson, summaryJson, taskJson, tasksJson, taskTypesJson, timelineJson, type ViewerModel } from '../viewer/model.js';
import { requestsTrace } from './helpers/export-traces.js';
import { tempTracePath, traceOf } from './helpers/trace.js';

const q = (text: string) => new URLSearchParams(text);

/** Every page's data, in the order given. */
function pages(model: ViewerModel, order: 'tasks first' | 'timeline first') {
  const ids = Array.from(model.tables.taskOrder, (row) => model.tables.taskId(row));
  const tasks = () => ({ list: tasksJson(model, q('limit=5000')), each: ids.map((id) => taskJson(model, id)) });
  const rest = () => ({
    summary: summaryJson(model),
    taskTypes: taskTypesJson(model),
    regionGroups: regionGroupsJson(model),
    timeline: timelineJson(model, q('px=800')),
    packed: timelineJson(model, q('px=800&lanes=packed')),
  });
  if (order === 'tasks first') return { tasks: tasks(), ...rest() };
  const before = rest();
  return { tasks: tasks(), ...before };
}

describe('the viewer computes the same whatever is asked first', () => {
  test('the task pages and lists, the overview and the timeline', async () => {
    const path = tempTracePath('load-order.trace');
    await requestsTrace(path, 640, 100, { gc: false, heap: false, eventLoop: false });
    const tasksFirst = pages(await loadViewerModel(path, '/'), 'tasks first');
    const timelineFirst = pages(await loadViewerModel(path, '/'), 'timeline first');
    expect(JSON.stringify(timelineFirst)).toBe(JSON.stringify(tasksFirst));
    expect(tasksFirst.tasks.each).toHaveLength(640);
  });

  test("a task's regions, logs and children are exactly those its events name, children in id order", async () => {
    // Children created out of id order: an older task's child after a newer task's.
    const { events, path } = await traceOf(() => {
      const [a, taskA] = newTask(background, 'a');
      const [b, taskB] = newTask(background, 'b');
      const [, childB] = newTask(b, 'child');
      const [, childA] = newTask(a, 'child');
      startRegion(a, 'work').end();
      log(b, 'note', 'hello');
      startRegion(b, 'work').end();
      for (const task of [childA, childB, taskA, taskB]) task.end();
    });
    const model = await loadViewerModel(path, '/');
    const created = events.filter((e) => e.kind === 'taskCreate');
    for (const { task: id } of created) {
      const page = taskJson(model, id)!;
      const regions = events.filter((e) => e.kind === 'regionStart' && e.task === id);
      const logs = events.filter((e) => e.kind === 'log' && e.task === id);
      expect(page.regions).toHaveLength(regions.length);
      expect(page.events.filter((e) => e.kind === 'log').map((e) => (e as { message: string }).message)).toEqual(logs.map((e) => (e as { message: string }).message));
      const children = created.filter((e) => e.parent === id).map((e) => e.task);
      expect(page.children).toEqual(children.sort((x, y) => x - y));
    }
    expect(created.length).toBe(4);
  });
});

describe('sortRows', () => {
  test('rows in order are left as they are; others are sorted', () => {
    const inOrder = Int32Array.of(0, 1, 2, 3);
    expect(sortRows(inOrder, (a, b) => a - b)).toBe(inOrder);
    expect(Array.from(sortRows(Int32Array.of(3, 1, 2, 0), (a, b) => a - b))).toEqual([0, 1, 2, 3]);
    const key = [5, 5, 1, 9];
    expect(Array.from(sortRows(Int32Array.of(0, 1, 2, 3), (a, b) => key[a] - key[b] || a - b))).toEqual([2, 0, 1, 3]);
  });
});
