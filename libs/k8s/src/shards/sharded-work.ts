// What a replica does with the ranges its membership gives it: start the
// range's informers, and serve its keys once they have listed; stop taking its
// keys, let in-flight ones end, and drop its caches when it goes. The write
// guard asks here before every write (mayWrite), so a replica never writes for
// a namespace whose range it no longer holds, whatever its reconcile started with.
import type { Logger } from 'pino';
import type { RangeLoss } from './shard-membership';
import type { ShardedInformer } from './sharded-informer';
import { rangeIndexOf } from './shard-ranges';
import type { WorkQueue } from '../queue/work-queue';

/** starting: informers listing, keys not taken yet; serving: keys taken, writes allowed; draining: handed back, in-flight work ending. */
export type RangeState = 'starting' | 'serving' | 'draining';

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
  onHandover?: (direction: 'gained' | RangeLoss) => void;
}

/** Thrown by a guarded write for a namespace this replica does not hold: the range's new holder does it. */
export class RangeNotHeldError extends Error {
  constructor(readonly namespace: string) {
    super(`not written: the shard range of namespace ${namespace} is not held by this replica`);
    this.name = 'RangeNotHeldError';
  }
}

export class ShardedWork {
  private readonly states = new Map<number, RangeState>();
  /** Each range's start, so a loss during its listing waits for nothing and serves nothing. */
  private readonly generations = new Map<number, number>();
  private generation = 0;

  /** Told of every hand-over (the host counts them). */
  onHandover?: (direction: 'gained' | RangeLoss) => void;
  /** The time fence: false once the member Lease has not been renewed for the renew deadline (see ShardMembership.fresh). */
  fence: () => boolean = () => true;

  constructor(private readonly opts: ShardedWorkOptions) {
    this.onHandover = opts.onHandover;
  }

  rangeOf(namespace: string): number {
    return rangeIndexOf(namespace, this.opts.shards);
  }

  /** The range of a queue key's namespace; undefined for a key without one. */
  rangeOfKey(key: string): number | undefined {
    const namespace = this.opts.namespaceOfKey(key);
    return namespace === undefined ? undefined : this.rangeOf(namespace);
  }

  state(range: number): RangeState | undefined {
    return this.states.get(range);
  }

  /** Ranges whose keys are taken now. */
  get serving(): number[] {
    return [...this.states].filter(([, s]) => s === 'serving').map(([r]) => r).sort((a, b) => a - b);
  }

  /** Whether the key's range is served: a key of any other range is not this replica's to run. */
  accepts(key: string): boolean {
    const range = this.rangeOfKey(key);
    return range !== undefined && this.states.get(range) === 'serving';
  }

  /** Whether a write in the namespace may go out now: its range is served, or handed back with its in-flight work ending. */
  mayWrite(namespace: string): boolean {
    const state = this.states.get(this.rangeOf(namespace));
    return (state === 'serving' || state === 'draining') && this.fence();
  }

  /** Throws RangeNotHeldError unless mayWrite. */
  guard(namespace: string): void {
    if (!this.mayWrite(namespace)) throw new RangeNotHeldError(namespace);
  }

  gain(range: number): void {
    if (this.states.has(range)) return;
    const generation = ++this.generation;
    this.generations.set(range, generation);
    this.states.set(range, 'starting');
    const started = Date.now();
    void Promise.all(this.opts.caches.map((c) => c.addRange(range)))
      .then(() => {
        if (this.generations.get(range) !== generation || this.states.get(range) !== 'starting') return;
        this.states.set(range, 'serving');
        this.opts.log.info({ range, listMs: Date.now() - started }, 'range served');
        this.onHandover?.('gained');
        this.opts.onServing(range);
      })
      .catch((err: unknown) => this.opts.log.error({ err, range }, 'range not served'));
  }

  async lose(range: number, how: RangeLoss): Promise<void> {
    if (!this.states.has(range)) return;
    const started = Date.now();
    // Handed back: in-flight reconciles may still write until they end. Lost: not one more write.
    if (how === 'hand-back' && this.states.get(range) === 'serving') this.states.set(range, 'draining');
    else this.states.delete(range);
    await this.opts.queue.release((key) => this.rangeOfKey(key) === range, { timeoutMs: this.opts.drainTimeoutMs ?? 7_000 });
    this.states.delete(range);
    this.generations.delete(range);
    await Promise.all(this.opts.caches.map((c) => c.dropRange(range)));
    this.onHandover?.(how);
    this.opts.log.info({ range, how, drainMs: Date.now() - started }, 'range let go');
  }
}
