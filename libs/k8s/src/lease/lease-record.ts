// The Lease record as leader election reads and writes it, the store it lives
// in, and the pure bookkeeping on it (client-go's tools/leaderelection rules).
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

