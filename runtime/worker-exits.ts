import type { Worker } from 'node:worker_threads';

/**
 * Calls `exited(id)` when a worker created by this thread exits (a terminated one sends no `done`:
 * its exit is how the collectors learn it is gone); returns the ids of those still running. A thread
 * sees only the workers it created itself exit (`process.on('worker')`).
 */
export function watchWorkerExits(exited: (id: number) => void): ReadonlySet<number> {
  const running = new Set<number>();
  process.on('worker', (worker: Worker) => {
    const id = worker.threadId; // -1 once it has exited
    running.add(id);
    worker.once('exit', () => {
      running.delete(id);
      exited(id);
    });
  });
  return running;
}
