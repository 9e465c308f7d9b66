// A map that forgets its least recently used entries beyond a fixed size, so
// that what a long-running controller remembers (Events to aggregate, uids
// seen deleted) costs bounded memory. A Map keeps insertion order, which is
// all an LRU needs: a use moves the entry to the young end.
export class LruCache<V> {
  private readonly entries = new Map<string, V>();
  readonly capacity: number;

  constructor(options: { capacity: number }) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new Error(`LruCache capacity must be a positive integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Looking an entry up counts as a use. */
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
