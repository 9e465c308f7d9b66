// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (tools/leaderelection): a candidate judges expiry by its own clock from the
// moment it last saw the record change, never by comparing renewTime with its
// clock, so clock skew between nodes cannot make two replicas lead at once.
import { V1MicroTime } from '@kubernetes/client-node';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { statusCodeOf } from './api-errors';
import { realClock } from './clock';
import type { Clock, TimerHandle } from './clock';
import type { ControllerMetrics } from './metrics';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
  /** Carried back into update() for optimistic concurrency. */
  resourceVersion?: string;
}

/** Another writer got there first (HTTP 409): normal when candidates race. */
export class LeaseConflictError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LeaseConflictError';
  }
}

export interface LeaseStore {
  /** null when the Lease does not exist. */
  get(): Promise<LeaseRecord | null>;
  /** Throws LeaseConflictError when it already exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Throws LeaseConflictError when record.resourceVersion is not the current one. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

// ---------------------------------------------------------------------------
// Pure bookkeeping

/** Whether two reads of the Lease are the same write; a change restarts the expiry countdown. */
export function sameLeaseRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.resourceVersion === b.resourceVersion &&
    (a.holderIdentity ?? '') === (b.holderIdentity ?? '') &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    a.renewTime?.getTime() === b.renewTime?.getTime() &&
    a.acquireTime?.getTime() === b.acquireTime?.getTime()
  );
}

/**
 * Held by someone else and not yet expired, expiry counted on the local clock
 * from observedAtMs, the moment this candidate first saw this version of the record.
 */
export function leaseHeldByOther(record: LeaseRecord, identity: string, observedAtMs: number, nowMs: number): boolean {
  if (!record.holderIdentity || record.holderIdentity === identity) return false;
  return observedAtMs + (record.leaseDurationSeconds ?? 0) * 1000 > nowMs;
}

/** The record that takes (or keeps) the lease for identity, based on the current one. */
export function acquiredLeaseRecord(
  current: LeaseRecord | null,
  identity: string,
  leaseDurationSeconds: number,
  now: Date,
): LeaseRecord {
  const renewing = current?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing ? (current?.acquireTime ?? now) : now,
    renewTime: now,
    leaseTransitions: current ? (current.leaseTransitions ?? 0) + (renewing ? 0 : 1) : 0,
    resourceVersion: current?.resourceVersion,
  };
}

/** What client-go writes with ReleaseOnCancel: no holder, and a 1 s duration so nobody waits long. */
export function releasedLeaseRecord(current: LeaseRecord, now: Date): LeaseRecord {
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: current.leaseTransitions ?? 0,
    resourceVersion: current.resourceVersion,
  };
}

// ---------------------------------------------------------------------------
// The Kubernetes adapter

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return new Date(value.getTime());
  // The generated deserializer leaves MicroTime fields as strings.
  if (typeof value === 'string' && value !== '') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

/** MicroTime must be sent with microseconds; V1MicroTime serialises that way, a plain Date does not. */
function toMicroTime(date: Date | undefined): V1MicroTime | undefined {
  return date ? new V1MicroTime(date.getTime()) : undefined;
}

export function leaseRecordFromLease(lease: V1Lease): LeaseRecord {
  return {
    holderIdentity: lease.spec?.holderIdentity,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    acquireTime: toDate(lease.spec?.acquireTime),
    renewTime: toDate(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

export function leaseFromRecord(namespace: string, name: string, record: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: toMicroTime(record.acquireTime),
      renewTime: toMicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

export function kubernetesLeaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  const conflict = (error: unknown, what: string) =>
    statusCodeOf(error) === 409 ? new LeaseConflictError(`lease ${namespace}/${name}: ${what}`, { cause: error }) : error;
  return {
    async get() {
      try {
        return leaseRecordFromLease(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (statusCodeOf(error) === 404) return null;
        throw error;
      }
    },
    async create(record) {
      try {
        const body = leaseFromRecord(namespace, name, { ...record, resourceVersion: undefined });
        return leaseRecordFromLease(await api.createNamespacedLease({ namespace, body }));
      } catch (error) {
        throw conflict(error, 'already exists');
      }
    },
    async update(record) {
      try {
        const body = leaseFromRecord(namespace, name, record);
        return leaseRecordFromLease(await api.replaceNamespacedLease({ name, namespace, body }));
      } catch (error) {
        throw conflict(error, 'changed since read');
      }
    },
  };
}

// ---------------------------------------------------------------------------
// The elector

export interface LeaderElectorOptions {
  store: LeaseStore;
  /** Unique per replica: the pod name plus something random survives pod-name reuse. */
  identity: string;
  /** How long a standby waits after the last change it saw before taking over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renew. Default 10 s. */
  renewDeadlineMs?: number;
  /** Time between attempts, for standbys and for the leader's renewals. Default 2 s. */
  retryPeriodMs?: number;
  clock?: Clock;
  log: Logger;
  metrics?: Pick<ControllerMetrics, 'setLeader'>;
  onStartedLeading: () => void;
  /**
   * Called on stop() when leading, and when a renewal deadline passes. After the
   * latter the elector goes on as a standby and may lead again later; a
   * controller that cannot cleanly restart its work should exit here.
   */
  onStoppedLeading: () => void;
}

export const LEADER_ELECTION_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

interface Attempt {
  ok: boolean;
  /** The record as last read or written, and when it was seen. */
  observed?: { record: LeaseRecord; at: number };
}

const TIMED_OUT = Symbol('timed out');

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

  private observed: LeaseRecord | null = null;
  private observedAt = 0;
  private leading = false;
  /** When the last successful acquire/renew was sent. */
  private lastRenewAt = 0;
  private started = false;
  private stopped = false;
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  /** The attempt in progress (bounded by the renew deadline), so stop() can wait for it. */
  private current: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

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
  }

  get isLeader(): boolean {
    return this.leading;
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
    const startedAt = this.clock.now();
    const result = await this.bounded(this.tryAcquireOrRenew(startedAt));
    if (result === TIMED_OUT) {
      this.log.warn({ timeoutMs: this.renewDeadlineMs }, 'lease request timed out');
    } else {
      if (result.observed) {
        this.observed = result.observed.record;
        this.observedAt = result.observed.at;
      }
      if (result.ok && !this.stopped) this.renewed(startedAt);
    }
    // Stepping down on a missed deadline is the deadline timer's job, set in renewed().
    if (this.stopped) return;
    this.schedule(this.retryPeriodMs);
  }

  private renewed(attemptStartedAt: number): void {
    this.lastRenewAt = attemptStartedAt;
    this.clearDeadline();
    // The deadline counts from before the write was sent, so it ends no later than any standby's expiry.
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.leading) this.loseLeadership('renew deadline passed');
    }, attemptStartedAt + this.renewDeadlineMs - this.clock.now());
    if (this.leading) return;
    this.leading = true;
    this.metrics?.setLeader(true);
    this.log.info({ transitions: this.observed?.leaseTransitions }, 'became leader');
    this.callback(this.onStartedLeading, 'onStartedLeading');
  }

  private loseLeadership(reason: string): void {
    this.leading = false;
    this.clearDeadline();
    this.metrics?.setLeader(false);
    if (reason === 'stopped') this.log.info({ reason }, 'stopped leading');
    else this.log.warn({ reason, lastRenewAt: new Date(this.lastRenewAt).toISOString() }, 'stopped leading');
    this.callback(this.onStoppedLeading, 'onStoppedLeading');
  }

  private async tryAcquireOrRenew(now: number): Promise<Attempt> {
    const nowDate = new Date(now);
    // Fast path: the leader renews on top of the version it wrote last, one request instead of two.
    if (this.leading && this.observed?.resourceVersion) {
      try {
        const written = await this.store.update(acquiredLeaseRecord(this.observed, this.identity, this.leaseDurationSeconds, nowDate));
        return { ok: true, observed: { record: written, at: this.clock.now() } };
      } catch (error) {
        this.log.debug({ err: error }, 'optimistic renew failed, re-reading the lease');
      }
    }

    let current: LeaseRecord | null;
    try {
      current = await this.store.get();
    } catch (error) {
      this.log.warn({ err: error }, 'could not read the lease');
      return { ok: false };
    }

    if (!current) {
      try {
        const created = await this.store.create(acquiredLeaseRecord(null, this.identity, this.leaseDurationSeconds, nowDate));
        return { ok: true, observed: { record: created, at: this.clock.now() } };
      } catch (error) {
        this.logWriteFailure(error, 'create');
        return { ok: false };
      }
    }

    const seenAt = this.clock.now();
    const changed = !this.observed || !sameLeaseRecord(this.observed, current);
    const observed = { record: current, at: changed ? seenAt : this.observedAt };
    if (leaseHeldByOther(current, this.identity, observed.at, seenAt)) {
      if (changed) this.log.debug({ holder: current.holderIdentity }, 'lease held by another candidate');
      return { ok: false, observed };
    }

    try {
      const written = await this.store.update(acquiredLeaseRecord(current, this.identity, this.leaseDurationSeconds, nowDate));
      return { ok: true, observed: { record: written, at: this.clock.now() } };
    } catch (error) {
      this.logWriteFailure(error, 'update');
      return { ok: false, observed };
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
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(TIMED_OUT), this.renewDeadlineMs);
      work.then(
        (value) => {
          this.clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.clock.clearTimeout(timer);
          this.log.warn({ err: error }, 'lease attempt failed');
          resolve({ ok: false } as T);
        },
      );
    });
  }

  private logWriteFailure(error: unknown, action: string): void {
    if (error instanceof LeaseConflictError) this.log.debug({ action }, 'lost a lease race');
    else this.log.warn({ err: error, action }, 'lease write failed');
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
