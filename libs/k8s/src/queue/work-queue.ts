// The controller's work queue, after client-go's workqueue: keys, not events,
// so a burst of events for one Deployment costs one reconcile, and a key is
// never reconciled twice at once. It holds keys only while it runs: a replica
// that does not lead (not started yet, or paused after losing its Lease) takes
// none, so a standby accumulates nothing and starts from a full resync.
import { pino } from 'pino';
import type { Logger } from 'pino';
import { realClock } from '../base/clock';
import type { Clock, TimerHandle } from '../base/clock';
import { TokenBucket } from '../base/token-bucket';
import type { ControllerMetrics, ReconcileOutcome } from '../metrics/metrics';

export type ReconcileResult =
  | { kind: 'done' }
  | { kind: 'requeueAfter'; delayMs: number }
  | { kind: 'terminal'; error: Error };

/** A thrown error (or rejected promise) means: retry with per-key backoff. */
export type Reconciler = (key: string) => Promise<ReconcileResult>;

export interface WorkQueueOptions {
  name: string;
  workers: number;
  /** First retry delay; doubles per consecutive failure of the key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Global rate of *retries* (keys put back after a failed reconcile), as
   * client-go's default controller rate limiter does: fresh keys are bounded by
   * the workers and by the API server's own priority and fairness, not here.
   */
  qps?: number;
  /** Retries allowed at once before qps applies. */
  burst?: number;
  clock?: Clock;
  log?: Logger;
  metrics?: ControllerMetrics;
}

export const WORK_QUEUE_DEFAULTS = { baseDelayMs: 5, maxDelayMs: 300_000, qps: 50, burst: 200 } as const;

/** Delay before retry number failures+1: base * 2^failures, capped. */
export function backoffDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  // 2^failures overflows to Infinity long after the cap; min() still gives the cap.
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, failures));
}

export class WorkQueue {
  readonly name: string;
  private readonly workers: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly bucket: TokenBucket;

  /** Keys ready to run, in arrival order. */
  private readonly ready: string[] = [];
  /** Keys that need a run: in `ready`, or in flight and to be run again after. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Delayed adds; a key keeps its earliest due time. */
  private readonly waiting = new Map<string, { due: number; handle: TimerHandle }>();
  private readonly failures = new Map<string, number>();

  private reconcile: Reconciler | undefined;
  /** Adds are taken only between start() and pause()/shutdown(). */
  private running = false;
  private pumping = false;
  private pumpAgain = false;
  private stopping = false;
  private idleWaiters: Array<() => void> = [];
  /** release() callers: each says whether it is done (and then resolves itself). */
  private releaseWaiters: Array<() => boolean> = [];
  private readonly busyListeners: Array<(busy: boolean) => void> = [];
  private toldBusy = false;

  constructor(opts: WorkQueueOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new Error(`WorkQueue ${opts.name}: workers must be an integer >= 1`);
    this.name = opts.name;
    this.workers = opts.workers;
    this.baseDelayMs = opts.baseDelayMs ?? WORK_QUEUE_DEFAULTS.baseDelayMs;
    this.maxDelayMs = opts.maxDelayMs ?? WORK_QUEUE_DEFAULTS.maxDelayMs;
    this.clock = opts.clock ?? realClock;
    this.log = (opts.log ?? pino({ level: 'silent' })).child({ queue: opts.name });
    this.metrics = opts.metrics;
    this.bucket = new TokenBucket({
      qps: opts.qps ?? WORK_QUEUE_DEFAULTS.qps,
      burst: opts.burst ?? WORK_QUEUE_DEFAULTS.burst,
      now: this.clock.now(),
    });
  }

  /** Keys ready and waiting for a worker (not delayed ones, not in-flight ones). */
  get depth(): number {
    return this.ready.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /**
   * Keys ready or in flight: the controller is working through a burst.
   * Delayed keys do not count (a requeue due in ten minutes is no work now).
   */
  get busy(): boolean {
    return this.ready.length > 0 || this.processing.size > 0;
  }

  /** Hears every change of {@link busy}: what yields to the reconciles (the Event recorder) waits for false. */
  onBusyChange(listener: (busy: boolean) => void): void {
    this.busyListeners.push(listener);
  }

  /** Consecutive failures of the key since its last success. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Whether keys are taken and run (started, not paused or shut down). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Keys held in any form: ready, in flight, delayed, or with a failure count. Zero on a replica that does not lead. */
  get held(): number {
    return new Set([...this.dirty, ...this.processing, ...this.waiting.keys(), ...this.failures.keys()]).size;
  }

  add(key: string): void {
    if (!this.running) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    // An in-flight key is picked up again when its run ends, never concurrently.
    if (this.processing.has(key)) return;
    this.ready.push(key);
    this.depthChanged();
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (!this.running) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending) {
      if (pending.due <= due) return;
      this.clock.clearTimeout(pending.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { due, handle });
  }

  /** Starts taking keys and running them; again after a pause(), never after shutdown(). */
  start(reconcile: Reconciler): void {
    if (this.stopping) throw new Error(`WorkQueue ${this.name}: shut down`);
    if (this.running) throw new Error(`WorkQueue ${this.name}: already started`);
    this.reconcile = reconcile;
    this.running = true;
    this.log.info({ workers: this.workers }, 'work queue started');
  }

  /**
   * Stops taking work until start() is called again (the replica lost its
   * Lease): queued and delayed keys and failure counts are dropped, later adds
   * ignored; resolves once in-flight reconciles have ended, or after timeoutMs.
   */
  pause(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.running) this.drop('pausing');
    return this.whenIdle(opts.timeoutMs);
  }

  /**
   * Stops taking work for good (queued and delayed keys are dropped, later adds
   * ignored) and resolves once in-flight reconciles have ended, or after timeoutMs.
   */
  async shutdown(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.drop('shutting down');
    }
    return this.whenIdle(opts.timeoutMs);
  }

  /**
   * Lets go of the keys `mine` says no longer belong here (a shard range handed
   * back or lost): queued, delayed and failing ones are dropped now, later adds
   * of them are up to the caller to refuse; resolves once none of them is in
   * flight any more, or after timeoutMs. Other keys run on.
   */
  release(gone: (key: string) => boolean, opts: { timeoutMs?: number } = {}): Promise<void> {
    let dropped = 0;
    for (const [key, { handle }] of this.waiting) {
      if (!gone(key)) continue;
      this.clock.clearTimeout(handle);
      this.waiting.delete(key);
    }
    for (let i = this.ready.length - 1; i >= 0; i--) {
      if (gone(this.ready[i]!)) this.ready.splice(i, 1);
    }
    for (const key of this.dirty) {
      if (!gone(key)) continue;
      this.dirty.delete(key);
      dropped++;
    }
    for (const key of this.failures.keys()) if (gone(key)) this.failures.delete(key);
    this.depthChanged();
    const inFlight = () => [...this.processing].some(gone);
    if (dropped > 0) this.log.info({ dropped }, 'work queue released keys');
    if (!inFlight()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const check = () => {
        if (inFlight()) return false;
        if (timer) this.clock.clearTimeout(timer);
        resolve();
        return true;
      };
      this.releaseWaiters.push(check);
      if (opts.timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          this.releaseWaiters = this.releaseWaiters.filter((w) => w !== check);
          this.log.warn({ inFlight: [...this.processing].filter(gone) }, 'work queue release timed out with reconciles in flight');
          resolve();
        }, opts.timeoutMs);
      }
    });
  }

  private drop(why: string): void {
    this.running = false;
    for (const { handle } of this.waiting.values()) this.clock.clearTimeout(handle);
    this.waiting.clear();
    const dropped = this.dirty.size;
    this.ready.length = 0;
    this.dirty.clear();
    this.failures.clear();
    this.depthChanged();
    this.log.info({ inFlight: this.processing.size, dropped }, `work queue ${why}`);
  }

  private async whenIdle(timeoutMs: number | undefined): Promise<void> {
    if (this.processing.size === 0) return;

    await new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      const done = () => {
        if (timer) this.clock.clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          this.log.warn({ inFlight: [...this.processing] }, 'work queue shutdown timed out with reconciles in flight');
          resolve();
        }, timeoutMs);
      }
    });
  }

  private pump(): void {
    // A reconcile that calls add() synchronously lands here while we are in the loop below.
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.startReady();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private startReady(): void {
    const reconcile = this.reconcile;
    if (!reconcile || !this.running) return;
    while (this.processing.size < this.workers && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.dirty.delete(key);
      this.processing.add(key);
      this.depthChanged();
      void this.run(reconcile, key);
    }
  }

  private async run(reconcile: Reconciler, key: string): Promise<void> {
    const started = this.clock.now();
    let result: ReconcileResult | { kind: 'error'; error: unknown };
    try {
      result = await reconcile(key);
    } catch (error) {
      result = { kind: 'error', error };
    }
    const durationMs = this.clock.now() - started;
    this.settle(key, result, durationMs);
    // A reconcile that ends after a pause leaves nothing behind: the next leader starts from a resync.
    if (!this.running) this.failures.delete(key);

    this.processing.delete(key);
    if (this.dirty.has(key) && this.running) {
      this.ready.push(key);
      this.depthChanged();
    }
    this.busyChanged();
    if (this.releaseWaiters.length > 0) this.releaseWaiters = this.releaseWaiters.filter((done) => !done());
    if (this.processing.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    this.pump();
  }

  private settle(key: string, result: ReconcileResult | { kind: 'error'; error: unknown }, durationMs: number): void {
    let outcome: ReconcileOutcome;
    switch (result.kind) {
      case 'done':
        outcome = 'done';
        this.failures.delete(key);
        this.log.debug({ key, durationMs }, 'reconciled');
        break;
      case 'requeueAfter':
        outcome = 'requeue';
        this.failures.delete(key);
        this.log.debug({ key, durationMs, delayMs: result.delayMs }, 'reconciled, requeued');
        this.addAfter(key, result.delayMs);
        break;
      case 'terminal':
        outcome = 'terminal';
        this.failures.delete(key);
        this.log.error({ key, durationMs, err: result.error }, 'reconcile failed, not retrying');
        break;
      case 'error': {
        outcome = 'error';
        const failures = this.failures.get(key) ?? 0;
        // The later of the key's own backoff and the global retry bucket (client-go's MaxOfRateLimiter).
        const delayMs = Math.max(backoffDelay(failures, this.baseDelayMs, this.maxDelayMs), this.bucket.reserve(this.clock.now()));
        this.failures.set(key, failures + 1);
        this.metrics?.retried();
        this.log.warn({ key, durationMs, err: result.error, retries: failures + 1, delayMs }, 'reconcile failed, retrying');
        this.addAfter(key, delayMs);
        break;
      }
    }
    this.metrics?.reconciled(outcome, durationMs / 1000);
  }

  private depthChanged(): void {
    this.metrics?.setQueueDepth(this.ready.length);
    this.busyChanged();
  }

  private busyChanged(): void {
    const busy = this.busy;
    if (busy === this.toldBusy) return;
    this.toldBusy = busy;
    for (const listener of this.busyListeners) listener(busy);
  }
}
