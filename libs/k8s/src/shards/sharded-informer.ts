// One cache of a resource for every hash range this replica holds
// (docs/decisions/0010-shards.md): ONE list and watch of the kind, whatever
// the number of ranges, so the API server holds one stream per cache per
// replica, as with EKSPOSE_SHARDS=1.
//
// Its selector is the union of the ranges held (`shardRange(…) || shardRange(…)`).
// With ShardedListAndWatch the server applies it; without, the server sends
// every object and event of the kind and this cache keeps only the namespaces
// of the ranges held (the same hash, here), so memory still falls with replicas.
//
// Gaining ranges costs one list of the kind (coalesced: ranges gained in one
// round share it), and the ranges already served stay served meanwhile. A
// range is listed (addRange resolves) only once a list that asked for it has
// filled the cache. Losing a range costs no list: its objects are forgotten
// at once, with no delete event (they were not deleted; another replica serves
// them now), and the running watch, still with the wider selector, has its
// events of that range dropped here until it is renewed with the narrower one.
//
// Without the gate a gained range could not be admitted without a list either:
// its unchanged objects never come down the watch again, and keeping every
// object of the kind to spare that list would undo the memory sharding saves.
import type { InformerEvent, InformerStatus, ObjectCache } from '../cache/informer';
import { LruCache } from '../base/lru-cache';
import { rangeIndexOf, unionSelector } from './shard-ranges';

/** What the kind's one informer must do beyond a cache: take a new selector and filter, list again, forget everything. */
export interface ReshardableCache<T> extends ObjectCache<T> {
  setShard(shard: { selector: string; accept: (obj: T) => boolean }): void;
  relist(): Promise<void>;
  clear(): void;
}

/** The kind's informer, built once, with the selector and filter of the ranges held when the first range comes. */
export type RangeInformerFactory<T> = (shard: { selector: string; accept: (obj: T) => boolean }) => ReshardableCache<T>;

type Handler<T> = (obj: T, old?: T) => void;

/** Namespaces seen, with their range: a hash per event would be a few BigInt multiplications each, for a handful of names. */
const RANGE_MEMO = 10_000;

export class ShardedInformer<T extends { metadata?: { namespace?: string } }> implements ObjectCache<T> {
  private informer?: ReshardableCache<T>;
  private readonly handlers: Array<[InformerEvent, Handler<T>]> = [];
  private started = false;
  /** Ranges held, each with the token of its current holding (a range let go and taken again is a new holding). */
  private readonly holdings = new Map<number, number>();
  private nextHolding = 0;
  /** Ranges whose objects the cache holds in full: a list that asked for them has filled it. */
  private readonly listed = new Set<number>();
  /** addRange callers waiting for their range's list. */
  private readonly waiters = new Map<number, Array<() => void>>();
  private syncScheduled = false;
  private readonly rangeOf = new LruCache<number>({ capacity: RANGE_MEMO });

  constructor(
    /** For logs and /readyz, e.g. `services`. */
    readonly resource: string,
    readonly shards: number,
    private readonly make: RangeInformerFactory<T>,
  ) {}

  on(event: InformerEvent, handler: Handler<T>): void {
    this.handlers.push([event, handler]);
    this.informer?.on(event, handler);
  }

  /** Ranges held (listed or being listed). */
  get held(): number[] {
    return [...this.holdings.keys()].sort((a, b) => a - b);
  }

  /** Whether the range's objects are all in the cache (a range not held: false). */
  hasListed(range: number): boolean {
    return this.listed.has(range);
  }

  /**
   * Takes the range into the selector; resolves once a list that asked for it
   * has filled the cache (at once if the cache is not started: a CRD not
   * served yet has nothing to list, and everything is looked at again when it
   * is). Ranges added in one turn of the event loop share one list. Also
   * resolves if the range is let go before it listed: check hasListed.
   */
  addRange(range: number): Promise<void> {
    if (!this.holdings.has(range)) {
      this.holdings.set(range, ++this.nextHolding);
      this.scheduleSync();
    }
    if (!this.started || this.listed.has(range)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(range, [...(this.waiters.get(range) ?? []), resolve]));
  }

  /** Forgets the range's objects (no handler hears of them) and narrows the selector; no list. */
  async dropRange(range: number): Promise<void> {
    if (!this.holdings.delete(range)) return;
    this.listed.delete(range);
    this.answer(range);
    if (this.holdings.size === 0) {
      // No range left: no watch either (a replica serving nothing holds no stream).
      await this.informer?.stop();
      this.informer?.clear();
      return;
    }
    this.informer?.setShard(this.shard());
  }

  private rangeOfNamespace(namespace: string): number {
    let range = this.rangeOf.get(namespace);
    if (range === undefined) {
      range = rangeIndexOf(namespace, this.shards);
      this.rangeOf.set(namespace, range);
    }
    return range;
  }

  /** The selector and filter of the ranges held now (the set as of now, not the live one: a range gained later waits for its own list). */
  private shard(): { selector: string; accept: (obj: T) => boolean } {
    const held = new Set(this.holdings.keys());
    return { selector: unionSelector(held, this.shards), accept: (obj) => held.has(this.rangeOfNamespace(obj.metadata?.namespace ?? '')) };
  }

  /** Every addRange of this turn first, then one list for all of them. */
  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    queueMicrotask(() => {
      this.syncScheduled = false;
      this.sync();
    });
  }

  /** Lists the ranges held and not listed yet, with the selector of everything held. */
  private sync(): void {
    const wanted = [...this.holdings].filter(([range]) => !this.listed.has(range));
    if (wanted.length === 0 || !this.started) return;
    const shard = this.shard();
    let informer = this.informer;
    if (!informer) {
      informer = this.make(shard);
      for (const [event, handler] of this.handlers) informer.on(event, handler);
      this.informer = informer;
    } else informer.setShard(shard);
    const listed = informer.relist();
    informer.start();
    void listed.then(() => {
      for (const [range, holding] of wanted) {
        // Let go (and maybe taken again) since this list was asked for: a later list answers the new holding.
        if (this.holdings.get(range) !== holding) continue;
        this.listed.add(range);
        this.answer(range);
      }
    });
  }

  private answer(range: number): void {
    for (const resolve of this.waiters.get(range) ?? []) resolve();
    this.waiters.delete(range);
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer?.get(namespace, name);
  }

  list(): T[] {
    return this.informer?.list() ?? [];
  }

  /** Every range held has listed (no range held: nothing to wait for). */
  get hasSynced(): boolean {
    return !this.started || this.held.every((r) => this.listed.has(r));
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.held.map((r) => this.addRange(r)));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // Held while stopped (a CRD served only now): those ranges list now.
    if (this.informer && this.holdings.size > 0 && [...this.holdings.keys()].every((r) => this.listed.has(r))) this.informer.start();
    else this.sync();
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.informer?.stop();
  }

  /** The kind's one informer, with `synced` meaning every range held has listed. */
  status(): InformerStatus {
    const inner = this.informer?.status();
    return {
      objects: 0,
      restarts: 0,
      ...inner,
      resource: this.resource,
      running: this.started,
      synced: this.hasSynced,
    };
  }
}
