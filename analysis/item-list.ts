/**
 * The tasks, regions or logs of an analysis: read like a read-only array (`length`, `at`, iteration,
 * `map`, `filter`, `find`, `slice`, …), but each item is made from the trace's columns when asked for,
 * so an analysis of ten million events holds a few dozen bytes an event rather than an object an item.
 * Items are equal each time they are asked for, not identical; {@link ItemList.toArray} makes them all.
 */
import type { Listing } from './analysis-types.js';

export class ItemList<T> implements Iterable<T> {
  readonly #listing: Listing<T>;

  constructor(listing: Listing<T>) {
    this.#listing = listing;
  }

  get length(): number {
    return this.#listing.length;
  }

  /** The item at `index` (negative: from the end, as `Array.prototype.at`); undefined outside the list. */
  at(index: number): T | undefined {
    const i = Math.trunc(index) < 0 ? this.length + Math.trunc(index) : Math.trunc(index);
    return i >= 0 && i < this.length ? this.#listing.at(i) : undefined;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.#listing.at(i);
  }

  /** Every item, made now. */
  toArray(): T[] {
    return Array.from(this);
  }

  /** `JSON.stringify` writes the items. */
  toJSON(): T[] {
    return this.toArray();
  }

  /** Items `start` (inclusive) to `end` (exclusive), as `Array.prototype.slice`. */
  slice(start = 0, end = this.length): T[] {
    const from = clampIndex(start, this.length);
    const to = clampIndex(end, this.length);
    const items: T[] = [];
    for (let i = from; i < to; i++) items.push(this.#listing.at(i));
    return items;
  }

  forEach(fn: (item: T, index: number) => void): void {
    for (let i = 0; i < this.length; i++) fn(this.#listing.at(i), i);
  }

  map<U>(fn: (item: T, index: number) => U): U[] {
    const mapped: U[] = [];
    for (let i = 0; i < this.length; i++) mapped.push(fn(this.#listing.at(i), i));
    return mapped;
  }

  filter<S extends T>(predicate: (item: T, index: number) => item is S): S[];
  filter(predicate: (item: T, index: number) => boolean): T[];
  filter(predicate: (item: T, index: number) => boolean): T[] {
    const kept: T[] = [];
    for (let i = 0; i < this.length; i++) {
      const item = this.#listing.at(i);
      if (predicate(item, i)) kept.push(item);
    }
    return kept;
  }

  find<S extends T>(predicate: (item: T, index: number) => item is S): S | undefined;
  find(predicate: (item: T, index: number) => boolean): T | undefined;
  find(predicate: (item: T, index: number) => boolean): T | undefined {
    const i = this.findIndex(predicate);
    return i < 0 ? undefined : this.#listing.at(i);
  }

  findIndex(predicate: (item: T, index: number) => boolean): number {
    for (let i = 0; i < this.length; i++) if (predicate(this.#listing.at(i), i)) return i;
    return -1;
  }

  some(predicate: (item: T, index: number) => boolean): boolean {
    return this.findIndex(predicate) >= 0;
  }

  every(predicate: (item: T, index: number) => boolean): boolean {
    return this.findIndex((item, i) => !predicate(item, i)) < 0;
  }

  reduce<U>(fn: (sum: U, item: T, index: number) => U, initial: U): U {
    let sum = initial;
    for (let i = 0; i < this.length; i++) sum = fn(sum, this.#listing.at(i), i);
    return sum;
  }

  /** `console.log` and `util.inspect` show the length and the first items, not the columns. */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    const shown = this.slice(0, 10);
    const more = this.length > shown.length ? ` … ${this.length - shown.length} more` : '';
    return `ItemList(${this.length}) ${inspect(shown, { ...options, depth: depth - 1 })}${more}`;
  }
}

function clampIndex(index: number, length: number): number {
  const i = Math.trunc(index) || 0;
  return i < 0 ? Math.max(0, length + i) : Math.min(i, length);
}
