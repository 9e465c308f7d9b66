// What a replica does with the ranges its membership gives it: start the
// range's informers, and serve its keys once they have listed; stop taking its
// keys, let in-flight ones end, and drop its caches when it goes. The write
// guard asks here before every write (mayWrite), so a replica never writes for
// a namespace whose range it no longer holds, whatever its reconcile started with.
import type { Logger } from 'pino';
import type { RangeLoss } from './shard-membership';
import type { ShardedInformer } from './sharded-informer';
import { rangeIndexOf } from './shard-ranges';
import { type RangePhase, RangeLifecycle } from './range-lifecycle';
import type { Reconciler, WorkQueue } from '../queue/work-queue';

export interface ShardedWorkOptions {
  shards: number;
  /** The caches split by range (Deployments and the objects they own). */
  caches: ReadonlyArray<Pick<ShardedInformer<never>, 'addRange' | 'dropRange'>>;
  queue: Pick<WorkQueue, 'release'>;
  /** The namespace a queue key is about (keys may carry a kind tag). */
  namespaceOfKey: (key: string) => string | undefined;
  /** A range is served now: queue its keys (its informers' first events came before it was). */
  onServing: (range: number) => void;
  log: Logger;
  /** How long a hand-back waits for in-flight reconciles of the range. */
  drainTimeoutMs?: number;
  /** Hand-overs, for ekspose_shard_handovers_total. */
  onHandover?: (direction: 'gained' | RangeLoss, range: number) => void;
  /** The ranges' phases, shared with the membership loop (which claims); one is made when not given. */
  ranges?: RangeLifecycle;
  /** The time fence: invalid once the member Lease's right to write has run out (the host's WriteFence). Default: always valid. */
  fence?: { valid(): boolean };
}

/** Thrown by a guarded write for a namespace this replica does not hold: the range's new holder does it. */
export class RangeNotHeldError extends Error {
  constructor(readonly namespace: string) {
    super(`not written: the shard range of namespace ${namespace} is not held by this replica`);
    this.name = 'RangeNotHeldError';
  }
}

export class ShardedWork {
  /** Every range's phase: the one record of a range's life on this replica (see range-lifecycle.ts). */
  readonly ranges: RangeLifecycle;

  /** Told of every hand-over (the host counts them; a range let go takes its per-key state with it). */
  onHandover?: (direction: 'gained' | RangeLoss, range: number) => void;
  /** The time fence: invalid once the member Lease's right to write has run out (see WriteFence); the host checks it is its own. */
  readonly writeFence?: { valid(): boolean };

  constructor(private readonly opts: ShardedWorkOptions) {
    this.onHandover = opts.onHandover;
    this.ranges = opts.ranges ?? new RangeLifecycle();
    if (opts.fence) this.writeFence = opts.fence;
  }

  rangeOf(namespace: string): number {
    return rangeIndexOf(namespace, this.opts.shards);
  }

  /** The range of a queue key's namespace; undefined for a key without one. */
  rangeOfKey(key: string): number | undefined {
    const namespace = this.opts.namespaceOfKey(key);
    return namespace === undefined ? undefined : this.rangeOf(namespace);
  }

  /** The range's phase; undefined when free. */
  state(range: number): RangePhase | undefined {
    return this.ranges.phase(range);
  }

  /** Ranges whose keys are taken now. */
  get serving(): number[] {
    return this.ranges.inPhase('serving');
  }

  /** Whether the key's range is served: a key of any other range is not this replica's to run. */
  accepts(key: string): boolean {
    const range = this.rangeOfKey(key);
    return range !== undefined && this.ranges.phase(range) === 'serving';
  }

  /** Whether a write in the namespace may go out now: its range is served, or handed back with its in-flight work ending. */
  mayWrite(namespace: string): boolean {
    const phase = this.ranges.phase(this.rangeOf(namespace));
    return (phase === 'serving' || phase === 'draining') && (this.writeFence?.valid() ?? true);
  }

  /** Throws RangeNotHeldError unless mayWrite. */
  guard(namespace: string): void {
    if (!this.mayWrite(namespace)) throw new RangeNotHeldError(namespace);
  }

  /**
   * The reconcile as a sharded replica runs it: a key of a range not served is
   * not this replica's; a write refused while the key's range is still served
   * (the fence down between a renewal's send and its answer) is tried again
   * after `retryDelayMs` instead of being dropped until the next resync; one
   * refused because the range went is done here (its new holder does it).
   */
  reconciler(reconcile: Reconciler, retryDelayMs: number): Reconciler {
    return async (key) => {
      if (!this.accepts(key)) return { kind: 'done' };
      try {
        return await reconcile(key);
      } catch (err) {
        if (!(err instanceof RangeNotHeldError)) throw err;
        return this.accepts(key) ? { kind: 'requeueAfter', delayMs: retryDelayMs } : { kind: 'done' };
      }
    };
  }

  /** Starts a range (claimed or free): its caches list, then its keys are served, unless a later step took the range meanwhile. */
  gain(range: number): void {
    const turn = this.ranges.start(range);
    if (!turn) return;
    const started = Date.now();
    void Promise.all(this.opts.caches.map((c) => c.addRange(range)))
      .then(() => {
        if (!this.ranges.serve(turn)) return;
        this.opts.log.info({ range, listMs: Date.now() - started }, 'range served');
        this.onHandover?.('gained', range);
        this.opts.onServing(range);
      })
      .catch((err: unknown) => this.opts.log.error({ err, range }, 'range not served'));
  }

  /**
   * Lets a range go: no new keys at once; handed back, its in-flight reconciles
   * may still write until they end; lost, not one more write. Then its caches
   * are dropped and it is free again, unless a later step (a loss during the
   * drain) took over meanwhile: that one finishes the job.
   */
  async lose(range: number, how: RangeLoss): Promise<void> {
    const turn = this.ranges.letGo(range, how);
    if (!turn) return;
    const started = Date.now();
    await this.opts.queue.release((key) => this.rangeOfKey(key) === range, { timeoutMs: this.opts.drainTimeoutMs ?? 7_000 });
    if (!this.ranges.current(turn)) return;
    await Promise.all(this.opts.caches.map((c) => c.dropRange(range)));
    if (!this.ranges.release(turn)) return;
    this.onHandover?.(how, range);
    this.opts.log.info({ range, how, drainMs: Date.now() - started }, 'range let go');
  }
}
