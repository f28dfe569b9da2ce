/**
 * A set of non-negative integer ids (flow ids, task ids) that costs about one bit per id when the ids
 * are dense, as the runtime's counters make them: 10 million ids take about 1.3 MB, where a `Set`
 * would take hundreds. Streaming exporters use it to remember which ids they have already seen. Sparse
 * ids (a damaged or hostile trace) cost a few bytes each, not a 512-byte bitmap each: a chunk of ids
 * is a short list until it holds {@link IdSet.LIST_IDS} of them.
 */
export class IdSet {
  private static readonly CHUNK_IDS = 4096;
  private static readonly LIST_IDS = 32;
  private readonly chunks = new Map<number, Uint32Array | number[]>();

  has(id: number): boolean {
    const chunk = this.chunks.get(Math.floor(id / IdSet.CHUNK_IDS));
    if (!chunk) return false;
    if (Array.isArray(chunk)) return chunk.includes(id);
    const bit = id % IdSet.CHUNK_IDS;
    return (chunk[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  /** Adds `id`; returns false when it was already there. */
  add(id: number): boolean {
    const key = Math.floor(id / IdSet.CHUNK_IDS);
    let chunk = this.chunks.get(key);
    if (!chunk) {
      this.chunks.set(key, [id]);
      return true;
    }
    if (Array.isArray(chunk)) {
      if (chunk.includes(id)) return false;
      if (chunk.length < IdSet.LIST_IDS) {
        chunk.push(id);
        return true;
      }
      const bits = new Uint32Array(IdSet.CHUNK_IDS / 32);
      for (const listed of chunk) {
        const b = listed % IdSet.CHUNK_IDS;
        bits[b >>> 5] |= 1 << (b & 31);
      }
      this.chunks.set(key, bits);
      chunk = bits;
    }
    const bit = id % IdSet.CHUNK_IDS;
    const mask = 1 << (bit & 31);
    if ((chunk[bit >>> 5] & mask) !== 0) return false;
    chunk[bit >>> 5] |= mask;
    return true;
  }
}
