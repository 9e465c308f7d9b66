// One cache of a resource made of one Informer per hash range this replica
// holds (docs/decisions/0010-shards.md). Gaining a range starts an informer that
// lists and watches only that range (server-side with ShardedListAndWatch, else
// filtered here); losing it stops that informer and drops its objects without
// a single delete event: the objects were not deleted, another replica serves
// them now. Reads go to the range the namespace hashes into.
import type { InformerEvent, InformerStatus, ObjectCache } from '../cache/informer';
import { type ShardRange, inShardRange, rangeIndexOf, shardRange, shardSelector } from './shard-ranges';

/** An informer over one range: the selector and the client-side filter it must use. */
export type RangeInformerFactory<T> = (shard: { range: ShardRange; selector: string; accept: (obj: T) => boolean }) => ObjectCache<T>;

type Handler<T> = (obj: T, old?: T) => void;

export class ShardedInformer<T extends { metadata?: { namespace?: string } }> implements ObjectCache<T> {
  private readonly ranges = new Map<number, ObjectCache<T>>();
  private readonly handlers: Array<[InformerEvent, Handler<T>]> = [];
  private started = false;

  constructor(
    /** For logs and /readyz, e.g. `services`. */
    readonly resource: string,
    readonly shards: number,
    private readonly make: RangeInformerFactory<T>,
  ) {}

  on(event: InformerEvent, handler: Handler<T>): void {
    this.handlers.push([event, handler]);
    for (const informer of this.ranges.values()) informer.on(event, handler);
  }

  /** Ranges with an informer (held, or being started or drained). */
  get held(): number[] {
    return [...this.ranges.keys()].sort((a, b) => a - b);
  }

  /** Starts the range's informer (if the cache is started); resolves once it has listed. */
  addRange(index: number): Promise<void> {
    let informer = this.ranges.get(index);
    if (!informer) {
      const range = shardRange(index, this.shards);
      const namespaceOf = (obj: T) => obj.metadata?.namespace ?? '';
      informer = this.make({ range, selector: shardSelector(range), accept: (obj) => inShardRange(namespaceOf(obj), range) });
      for (const [event, handler] of this.handlers) informer.on(event, handler);
      this.ranges.set(index, informer);
      if (this.started) informer.start();
    }
    // A cache not started (a CRD not served yet) has nothing to list: the range is served without it,
    // and everything is looked at again when the kind is served.
    return this.started ? informer.waitForSync() : Promise.resolve();
  }

  /** Stops the range's informer and forgets its objects; no handler hears of them. */
  async dropRange(index: number): Promise<void> {
    const informer = this.ranges.get(index);
    if (!informer) return;
    this.ranges.delete(index);
    await informer.stop();
  }

  private of(namespace: string): ObjectCache<T> | undefined {
    return this.ranges.get(rangeIndexOf(namespace, this.shards));
  }

  get(namespace: string, name: string): T | undefined {
    return this.of(namespace)?.get(namespace, name);
  }

  list(): T[] {
    return [...this.ranges.values()].flatMap((i) => i.list());
  }

  get hasSynced(): boolean {
    return [...this.ranges.values()].every((i) => i.hasSynced);
  }

  /** Every held range has listed (no range held: nothing to wait for). */
  async waitForSync(): Promise<void> {
    await Promise.all([...this.ranges.values()].map((i) => i.waitForSync()));
  }

  start(): void {
    this.started = true;
    for (const informer of this.ranges.values()) informer.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.ranges.values()].map((i) => i.stop()));
  }

  /** The ranges together: objects and restarts summed, failing since the earliest, server-side only if every range's list was. */
  status(): InformerStatus {
    const all = [...this.ranges.values()].map((i) => i.status());
    const failing = all.map((s) => s.failingSince).filter((t): t is number => t !== undefined);
    const sides = all.map((s) => s.serverSide).filter((s): s is boolean => s !== undefined);
    const lastError = all.find((s) => s.lastError)?.lastError;
    return {
      resource: this.resource,
      running: this.started,
      synced: all.every((s) => s.synced),
      objects: all.reduce((n, s) => n + s.objects, 0),
      restarts: all.reduce((n, s) => n + s.restarts, 0),
      ...(lastError ? { lastError } : {}),
      ...(failing.length > 0 ? { failingSince: Math.min(...failing) } : {}),
      ...(sides.length > 0 ? { serverSide: sides.every(Boolean) } : {}),
    };
  }
}
