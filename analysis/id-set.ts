/**
 * A set of non-negative integer ids (flow ids, task ids) that costs about one bit per id when the ids
 * are dense, as the runtime's counters make them: 10 million ids take about 1.3 MB, where a `Set`
 * would take hundreds. Streaming exporters use it to remember which ids they have already seen.
 */
export class IdSet {
  private static readonly CHUNK_IDS = 4096;
  private readonly chunks = new Map<number, Uint32Array>();

  has(id: number): boolean {
    const chunk = this.chunks.get(Math.floor(id / IdSet.CHUNK_IDS));
    if (!chunk) return false;
    const bit = id % IdSet.CHUNK_IDS;
    return (chunk[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  /** Adds `id`; returns false when it was already there. */
  add(id: number): boolean {
    const key = Math.floor(id / IdSet.CHUNK_IDS);
    let chunk = this.chunks.get(key);
    if (!chunk) {
      chunk = new Uint32Array(IdSet.CHUNK_IDS / 32);
      this.chunks.set(key, chunk);
    }
    const bit = id % IdSet.CHUNK_IDS;
    const mask = 1 << (bit & 31);
    if ((chunk[bit >>> 5] & mask) !== 0) return false;
    chunk[bit >>> 5] |= mask;
    return true;
  }
}
