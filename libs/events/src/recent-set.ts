/**
 * A set that forgets its least recently touched entries beyond a fixed size,
 * so that remembering every uid seen in a long-running process costs bounded
 * memory. A Map keeps insertion order, which is all an LRU needs.
 */
export class RecentSet {
  private readonly entries = new Map<string, true>();
  readonly capacity: number;

  constructor(options: { capacity: number }) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new Error(`RecentSet capacity must be a positive integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  add(value: string): void {
    this.entries.delete(value);
    this.entries.set(value, true);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** Looking an entry up counts as a use: it moves to the young end. */
  has(value: string): boolean {
    if (!this.entries.has(value)) return false;
    this.add(value);
    return true;
  }
}
