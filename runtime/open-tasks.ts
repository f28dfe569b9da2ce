/**
 * The tasks created and not yet ended, in creation order, as the flight recorder follows them: most
 * tasks live briefly and ids grow, so the recent ones sit in a ring of columns indexed by id (no
 * object, no hashing per task); a task open for long (a server's) moves to a map when the ring must
 * make room past it.
 */

/** A carried task's facts, as ids. */
export interface OpenTask {
  readonly id: number;
  readonly ts: number;
  readonly flow: number;
  readonly parent: number;
  readonly type: number;
  readonly location: number;
}

/** The ring's largest size; past it, the oldest open task moves to the map. */
const MAX_RING = 1 << 16;

export class OpenTasks {
  /** Tasks that outlived the ring, by id, in creation order. */
  private readonly old = new Map<number, OpenTask>();
  /** The ring: ids base … top-1 at index id & mask; open[i] = 0 for ended ones. */
  private base = 0;
  private top = 0;
  private mask = 1023;
  private open = new Uint8Array(1024);
  private ts = new Float64Array(1024);
  private flow = new Float64Array(1024);
  private parent = new Float64Array(1024);
  private type = new Int32Array(1024);
  private location = new Int32Array(1024);
  /** Open tasks, in the ring and the map. */
  size = 0;

  constructor(private readonly limit: number) {}

  add(id: number, ts: number, flow: number, parent: number, type: number, location: number): void {
    if (id < this.top) {
      // Not the newest id (a runtime never does this, but a ring must not be corrupted by it).
      this.delete(id);
      this.old.set(id, { id, ts, flow, parent, type, location });
      this.size++;
    } else {
      if (this.top === this.base) this.base = this.top = id;
      while (id - this.base > this.mask) this.makeRoom(id);
      for (let skipped = this.top; skipped < id; skipped++) this.open[skipped & this.mask] = 0;
      const i = id & this.mask;
      this.open[i] = 1;
      this.ts[i] = ts;
      this.flow[i] = flow;
      this.parent[i] = parent;
      this.type[i] = type;
      this.location[i] = location;
      this.top = id + 1;
      this.size++;
    }
    if (this.size > this.limit) this.forgetOldest();
  }

  delete(id: number): void {
    if (id >= this.base && id < this.top) {
      const i = id & this.mask;
      if (this.open[i] === 0) return;
      this.open[i] = 0;
      this.size--;
      while (this.base < this.top && this.open[this.base & this.mask] === 0) this.base++;
    } else if (this.old.delete(id)) {
      this.size--;
    }
  }

  /** The open tasks, oldest first. */
  *[Symbol.iterator](): IterableIterator<OpenTask> {
    yield* this.old.values();
    for (let id = this.base; id < this.top; id++) if (this.open[id & this.mask] === 1) yield this.at(id);
  }

  private at(id: number): OpenTask {
    const i = id & this.mask;
    return { id, ts: this.ts[i], flow: this.flow[i], parent: this.parent[i], type: this.type[i], location: this.location[i] };
  }

  /** Room for `id` in the ring: a larger ring, or the oldest open task moved to the map. */
  private makeRoom(id: number): void {
    if (this.mask + 1 < MAX_RING) return this.grow();
    if (this.open[this.base & this.mask] === 1) this.old.set(this.base, this.at(this.base));
    this.open[this.base & this.mask] = 0;
    this.base++;
    while (this.base < this.top && this.open[this.base & this.mask] === 0) this.base++;
    if (this.base === this.top) this.base = this.top = id;
  }

  private grow(): void {
    const mask = this.mask * 2 + 1;
    const move = <T extends Uint8Array | Int32Array | Float64Array>(column: T, grown: T): T => {
      for (let id = this.base; id < this.top; id++) grown[id & mask] = column[id & this.mask];
      return grown;
    };
    this.open = move(this.open, new Uint8Array(mask + 1));
    this.ts = move(this.ts, new Float64Array(mask + 1));
    this.flow = move(this.flow, new Float64Array(mask + 1));
    this.parent = move(this.parent, new Float64Array(mask + 1));
    this.type = move(this.type, new Int32Array(mask + 1));
    this.location = move(this.location, new Int32Array(mask + 1));
    this.mask = mask;
  }

  /** Past the limit (tasks that are never ended would grow it forever), the oldest is forgotten. */
  private forgetOldest(): void {
    const oldest = this.old.keys().next();
    if (!oldest.done) this.delete(oldest.value);
    else this.delete(this.base);
  }
}
