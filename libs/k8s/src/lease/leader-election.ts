// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (tools/leaderelection): a candidate judges expiry by its own clock from the
// moment it last saw the record change, never by comparing renewTime with its
// clock, so clock skew between nodes cannot make two replicas lead at once.
// The record and its pure rules are in lease-record.ts, the Kubernetes store in
// kubernetes-lease-store.ts.
import type { Logger } from 'pino';
import { DEFAULT_LEASE_DURATION_SECONDS, DEFAULT_LEASE_RENEW_DEADLINE_SECONDS, DEFAULT_LEASE_RETRY_PERIOD_SECONDS } from './lease-timings';
import { describeError } from '../api/api-errors';
import { TIMED_OUT, realClock, within } from '../base/clock';
import type { Clock, TimerHandle } from '../base/clock';
import { type LeaseRecord, type LeaseStore, LeaseConflictError, acquiredLeaseRecord, leaseHeldByOther, releasedLeaseRecord, sameLeaseRecord } from './lease-record';
import type { ControllerMetrics } from '../metrics/metrics';
import type { WriteFence } from './write-fence';

export * from './lease-record';
export * from './kubernetes-lease-store';

export interface LeaderElectorOptions {
  store: LeaseStore;
  /** Unique per replica (ekspose passes POD_NAME, else <hostname>-<pid>). */
  identity: string;
  /** How long a standby waits after the last change it saw before taking over. Default: the setting's, 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renew. Default: the setting's, 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts, for standbys and for the leader's renewals. Default: the setting's, 2 s. */
  retryPeriodMs?: number;
  clock?: Clock;
  log: Logger;
  metrics?: Pick<ControllerMetrics, 'setLeader'>;
  onStartedLeading: () => void;
  /**
   * Called on stop() when leading, and when a renewal deadline passes. After the
   * latter the elector goes on as a standby and may lead again later (the
   * ControllerHost pauses its work and waits to win the Lease again).
   */
  onStoppedLeading: () => void;
  /** Moved on every committed renewal and revoked when leadership ends: the leader's write guard checks it. */
  fence?: WriteFence;
}

/** The same numbers as the EKSPOSE_LEASE_* settings' defaults: one source for both. */
export const LEADER_ELECTION_DEFAULTS = {
  leaseDurationMs: DEFAULT_LEASE_DURATION_SECONDS * 1000,
  renewDeadlineMs: DEFAULT_LEASE_RENEW_DEADLINE_SECONDS * 1000,
  retryPeriodMs: DEFAULT_LEASE_RETRY_PERIOD_SECONDS * 1000,
} as const;

interface Attempt {
  ok: boolean;
  /** Why the Lease could not be read or written (not a lost race, not a lease held by another). */
  problem?: string;
  /** The record as last read or written, and when it was seen (monotonic). */
  observed?: { record: LeaseRecord; at: number };
}

export class LeaderElector {
  private readonly store: LeaseStore;
  private readonly identity: string;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: Pick<ControllerMetrics, 'setLeader'> | undefined;
  private readonly onStartedLeading: () => void;
  private readonly onStoppedLeading: () => void;
  private readonly fence: WriteFence | undefined;

  private observed: LeaseRecord | null = null;
  private observedAt = 0;
  private leading = false;
  /** When the last successful acquire/renew was sent (monotonic). */
  private lastRenewAt = 0;
  /** Wall time of the same, for the log. */
  private lastRenewWall = 0;
  private started = false;
  private stopped = false;
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  /** The attempt in progress (bounded by the renew deadline), so stop() can wait for it. */
  private current: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private currentProblem: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    const leaseDurationMs = opts.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs;
    const renewDeadlineMs = opts.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs;
    const retryPeriodMs = opts.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs;
    // The leader must give up before a standby may take over, and must get more than one try.
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs && retryPeriodMs > 0)) {
      throw new Error(
        `leader election needs leaseDuration > renewDeadline > retryPeriod > 0, got ${leaseDurationMs}/${renewDeadlineMs}/${retryPeriodMs} ms`,
      );
    }
    if (!opts.identity) throw new Error('leader election needs a non-empty identity');
    this.store = opts.store;
    this.identity = opts.identity;
    this.leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    this.renewDeadlineMs = renewDeadlineMs;
    this.retryPeriodMs = retryPeriodMs;
    this.clock = opts.clock ?? realClock;
    this.log = opts.log.child({ identity: opts.identity });
    this.metrics = opts.metrics;
    this.onStartedLeading = opts.onStartedLeading;
    this.onStoppedLeading = opts.onStoppedLeading;
    this.fence = opts.fence;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Why the last attempt could not read or write the Lease (a missing namespace, a forbidden verb), if it could not. */
  get problem(): string | undefined {
    return this.currentProblem;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.metrics?.setLeader(false);
    this.log.info({ leaseDurationSeconds: this.leaseDurationSeconds }, 'leader election started');
    this.schedule(0);
  }

  /** Stops trying; if this replica holds the lease, releases it and calls onStoppedLeading. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    // Releasing while an attempt is still writing could be undone by that write.
    // The deadline timer stays armed meanwhile: waiting must not extend leadership.
    await this.current;
    if (this.observed?.holderIdentity === this.identity) {
      if ((await this.bounded(this.release())) === TIMED_OUT) this.log.warn('lease release timed out');
    }
    if (this.leading) this.loseLeadership('stopped');
    this.clearDeadline();
    this.log.info('leader election stopped');
  }

  private schedule(delayMs: number): void {
    this.tickTimer = this.clock.setTimeout(() => {
      this.tickTimer = undefined;
      this.current = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const startedAt = this.clock.monotonic();
    const wall = this.clock.now();
    // A leader's renew cycle starts with its first attempt after a success and must succeed within the
    // renew deadline of that start, as client-go's renew loop does: counted from the previous attempt
    // instead, a renewal slower than (deadline - retry period) / 2 would always land after it, and the
    // leader would flap. Writes stop earlier anyway, at the fence (the last committed send + the deadline).
    if (this.leading && !this.deadlineTimer) this.armDeadline(startedAt);
    const result = await this.bounded(this.tryAcquireOrRenew(wall));
    if (result === TIMED_OUT) {
      this.log.warn({ timeoutMs: this.renewDeadlineMs }, 'lease request timed out');
      this.currentProblem = `lease request timed out after ${this.renewDeadlineMs} ms`;
    } else {
      this.currentProblem = result.problem;
      if (result.observed) {
        this.observed = result.observed.record;
        this.observedAt = result.observed.at;
      }
      if (result.ok && !this.stopped) this.renewed(startedAt, wall);
      // Another holder: it took over (this replica was paused or cut off past the lease). Nothing to wait for.
      const holder = result.observed?.record.holderIdentity;
      if (!result.ok && this.leading && holder && holder !== this.identity) this.loseLeadership(`the Lease is held by ${holder}`);
    }
    // Stepping down on a missed deadline is the deadline timer's job.
    if (this.stopped) return;
    this.schedule(this.retryPeriodMs);
  }

  /** Steps down unless a renewal commits within the renew deadline of the cycle that started at `cycleStartedAt`. */
  private armDeadline(cycleStartedAt: number): void {
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.leading) this.loseLeadership('renew deadline passed');
    }, cycleStartedAt + this.renewDeadlineMs - this.clock.monotonic());
  }

  private renewed(attemptStartedAt: number, wall: number): void {
    this.lastRenewAt = attemptStartedAt;
    this.lastRenewWall = wall;
    // The cycle succeeded; the next attempt starts the next one.
    this.clearDeadline();
    // The right to write counts from before the write was sent, so it ends before any standby's expiry.
    this.fence?.renewed(attemptStartedAt);
    if (this.leading) return;
    this.leading = true;
    this.metrics?.setLeader(true);
    this.log.info({ transitions: this.observed?.leaseTransitions }, 'became leader');
    this.callback(this.onStartedLeading, 'onStartedLeading');
  }

  private loseLeadership(reason: string): void {
    this.leading = false;
    this.fence?.revoke();
    this.clearDeadline();
    this.metrics?.setLeader(false);
    if (reason === 'stopped') this.log.info({ reason }, 'stopped leading');
    else this.log.warn({ reason, lastRenewAt: new Date(this.lastRenewWall).toISOString(), sinceLastRenewMs: Math.round(this.clock.monotonic() - this.lastRenewAt) }, 'stopped leading');
    this.callback(this.onStoppedLeading, 'onStoppedLeading');
  }

  /** `now`: wall time, written into the record; every duration is judged on the monotonic clock. */
  private async tryAcquireOrRenew(now: number): Promise<Attempt> {
    const nowDate = new Date(now);
    // Fast path: the leader renews on top of the version it wrote last, one request instead of two.
    if (this.leading && this.observed?.resourceVersion) {
      try {
        const written = await this.store.update(acquiredLeaseRecord(this.observed, this.identity, this.leaseDurationSeconds, nowDate));
        return { ok: true, observed: { record: written, at: this.clock.monotonic() } };
      } catch (error) {
        this.log.debug({ err: error }, 'optimistic renew failed, re-reading the lease');
      }
    }

    let current: LeaseRecord | null;
    try {
      current = await this.store.get();
    } catch (error) {
      return { ok: false, problem: this.logProblem(error, 'read') };
    }

    if (!current) {
      try {
        const created = await this.store.create(acquiredLeaseRecord(null, this.identity, this.leaseDurationSeconds, nowDate));
        return { ok: true, observed: { record: created, at: this.clock.monotonic() } };
      } catch (error) {
        return { ok: false, problem: this.logWriteFailure(error, 'create') };
      }
    }

    const seenAt = this.clock.monotonic();
    const changed = !this.observed || !sameLeaseRecord(this.observed, current);
    const observed = { record: current, at: changed ? seenAt : this.observedAt };
    if (leaseHeldByOther(current, this.identity, observed.at, seenAt)) {
      if (changed) this.log.debug({ holder: current.holderIdentity }, 'lease held by another candidate');
      return { ok: false, observed };
    }

    try {
      const written = await this.store.update(acquiredLeaseRecord(current, this.identity, this.leaseDurationSeconds, nowDate));
      return { ok: true, observed: { record: written, at: this.clock.monotonic() } };
    } catch (error) {
      return { ok: false, observed, problem: this.logWriteFailure(error, 'update') };
    }
  }

  private async release(): Promise<void> {
    const now = new Date(this.clock.now());
    try {
      await this.store.update(releasedLeaseRecord(this.observed as LeaseRecord, now));
      this.log.info('lease released');
      return;
    } catch (error) {
      if (!(error instanceof LeaseConflictError)) {
        this.log.warn({ err: error }, 'could not release the lease; a standby takes over when it expires');
        return;
      }
    }
    // Our version is stale; release only if the lease is still ours.
    try {
      const current = await this.store.get();
      if (current?.holderIdentity === this.identity) {
        await this.store.update(releasedLeaseRecord(current, now));
        this.log.info('lease released');
      }
    } catch (error) {
      this.log.warn({ err: error }, 'could not release the lease; a standby takes over when it expires');
    }
  }

  /** A store call that hangs must not hold the loop beyond the renew deadline. */
  private bounded<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT> {
    const settled = work.catch((error: unknown) => {
      this.log.warn({ err: error }, 'lease attempt failed');
      return { ok: false } as T;
    });
    return within(settled, this.renewDeadlineMs, this.clock);
  }

  /** A lost race is normal (debug); anything else is the problem that keeps this replica from leading. */
  private logWriteFailure(error: unknown, action: string): string | undefined {
    if (error instanceof LeaseConflictError) {
      this.log.debug({ action }, 'lost a lease race');
      return undefined;
    }
    return this.logProblem(error, action);
  }

  /** One warning per distinct problem, not one per retry period. */
  private logProblem(error: unknown, action: string): string {
    const problem = `cannot ${action} the Lease: ${describeError(error)}`;
    if (problem !== this.currentProblem) this.log.warn({ err: describeError(error), action }, problem);
    else this.log.debug({ action }, problem);
    return problem;
  }

  private clearDeadline(): void {
    if (this.deadlineTimer) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }

  private callback(fn: () => void, name: string): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: error, callback: name }, 'leader election callback threw');
    }
  }
}
