/**
 * A min-heap of items by time, then rank, then insertion order: what the Go export uses to write a
 * thread's events in time order when they arrive out of it (a Run event comes after the events it
 * contains, and says when its flow became ready, which may be before them).
 */

export interface Timed {
  readonly ts: number;
  /** Among items of the same time, lower ranks come first. */
  readonly rank: number;
}

interface Entry<T> {
  readonly item: T;
  readonly seq: number;
}

export class TimeOrderedQueue<T extends Timed> {
  private readonly heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** The earliest item, or undefined when empty. */
  peek(): T | undefined {
    return this.heap[0]?.item;
  }

  push(item: T): void {
    const heap = this.heap;
    heap.push({ item, seq: this.seq++ });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** Removes and returns the earliest item, or undefined when empty. */
  pop(): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0].item;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left], heap[least])) least = left;
        if (right < heap.length && before(heap[right], heap[least])) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least], heap[i]];
        i = least;
      }
    }
    return top;
  }
}

function before<T extends Timed>(a: Entry<T>, b: Entry<T>): boolean {
  if (a.item.ts !== b.item.ts) return a.item.ts < b.item.ts;
  if (a.item.rank !== b.item.rank) return a.item.rank < b.item.rank;
  return a.seq < b.seq;
}
