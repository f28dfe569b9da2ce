/**
 * A map from non-negative integer ids (task ids, flow ids) to small non-negative integers (rows), about
 * 4 bytes an id when the ids are dense, as the runtime's counters make them, and many times faster than
 * a `Map` of millions of entries. Sparse ids (a damaged or hostile trace) cost a few bytes each: a chunk
 * of ids is a short list until it holds {@link IdIndex.LIST_IDS} of them. Other numbers (fractions,
 * negatives, beyond 2^53) go to a `Map`.
 */
export class IdIndex {
  private static readonly CHUNK_IDS = 4096;
  private static readonly LIST_IDS = 32;
  /** Chunk number → its rows (−1: none), or a list of `[id, row]` pairs while short. */
  private readonly chunks = new Map<number, Int32Array | number[]>();
  private readonly others = new Map<number, number>();

  /** The row of `id`, or −1. */
  get(id: number): number {
    if (!Number.isSafeInteger(id) || id < 0) return this.others.get(id) ?? -1;
    const chunk = this.chunks.get(Math.floor(id / IdIndex.CHUNK_IDS));
    if (chunk === undefined) return -1;
    if (Array.isArray(chunk)) {
      for (let k = 0; k < chunk.length; k += 2) if (chunk[k] === id) return chunk[k + 1];
      return -1;
    }
    return chunk[id % IdIndex.CHUNK_IDS];
  }

  /** Sets the row of `id` (a non-negative integer below 2^31). */
  set(id: number, row: number): void {
    if (!Number.isSafeInteger(id) || id < 0) {
      this.others.set(id, row);
      return;
    }
    const key = Math.floor(id / IdIndex.CHUNK_IDS);
    const chunk = this.chunks.get(key);
    if (chunk === undefined) {
      this.chunks.set(key, [id, row]);
    } else if (!Array.isArray(chunk)) {
      chunk[id % IdIndex.CHUNK_IDS] = row;
    } else {
      for (let k = 0; k < chunk.length; k += 2) {
        if (chunk[k] === id) {
          chunk[k + 1] = row;
          return;
        }
      }
      if (chunk.length < 2 * IdIndex.LIST_IDS) {
        chunk.push(id, row);
        return;
      }
      const rows = new Int32Array(IdIndex.CHUNK_IDS).fill(-1);
      for (let k = 0; k < chunk.length; k += 2) rows[chunk[k] % IdIndex.CHUNK_IDS] = chunk[k + 1];
      rows[id % IdIndex.CHUNK_IDS] = row;
      this.chunks.set(key, rows);
    }
  }
}
