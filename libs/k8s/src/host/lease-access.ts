// Whether this replica can take part at all: the answers to its Lease calls,
// told apart. A Lease namespace that does not exist (POD_NAMESPACE wrong) or a
// Lease the API server forbids is a configuration that can never work by
// itself: the replica is not ready and says why, in one error line and in
// /readyz, until a Lease call goes through again. An API server that does not
// answer (an outage, a network split) is not that: informers failing past
// their tolerance tell it, as before.
import type { Logger } from 'pino';
import { describeError, statusCodeOf } from '../api/api-errors';
import { LeaseConflictError, type LeaseStore } from '../lease/lease-record';
import type { MemberStore } from '../shards/member-leases';

/** The permanent misconfiguration a failed Lease call shows, or undefined for any other failure. */
export function leaseMisconfiguration(err: unknown, namespace: string): string | undefined {
  const code = statusCodeOf(err);
  if (code === 403) return `the API server forbids this replica's Lease in namespace ${namespace} (RBAC or an admission policy): ${describeError(err)}`;
  // A 404 of a create (or from any call naming the namespace) is the namespace, not the Lease.
  if (code === 404 && /namespaces "[^"]*" not found/.test(describeError(err))) {
    return `POD_NAMESPACE=${namespace}: no such namespace, so no Lease can be kept there (set POD_NAMESPACE from the downward API, metadata.namespace): ${describeError(err)}`;
  }
  return undefined;
}

export class LeaseAccess {
  private current: string | undefined;

  constructor(private readonly opts: { namespace: string; log: Logger }) {}

  /** Why this replica cannot take part, or undefined. */
  get problem(): string | undefined {
    return this.current;
  }

  /** The leader Lease store, its answers watched: a written or read Lease clears the problem. */
  leaseStore(store: LeaseStore): LeaseStore {
    return {
      get: () => this.watch(store.get(), (lease) => lease !== null),
      create: (record) => this.watch(store.create(record), () => true),
      update: (record) => this.watch(store.update(record), () => true),
    };
  }

  /**
   * The member Lease store, its answers watched. A list of a missing namespace
   * is an empty list, not a proof that it exists: only a write clears.
   */
  memberStore(store: MemberStore): MemberStore {
    return {
      list: () => this.watch(store.list(), () => false),
      write: (own) => this.watch(store.write(own), () => true),
      remove: () => store.remove(),
      removeStale: (name, version) => store.removeStale(name, version),
    };
  }

  private async watch<T>(call: Promise<T>, clears: (value: T) => boolean): Promise<T> {
    try {
      const value = await call;
      if (clears(value)) this.set(undefined);
      return value;
    } catch (err) {
      const problem = leaseMisconfiguration(err instanceof LeaseConflictError ? err.cause : err, this.opts.namespace);
      if (problem) this.set(problem);
      // A conflict is an answer about the Lease itself: the namespace exists and the call was allowed.
      else if (err instanceof LeaseConflictError || statusCodeOf(err) === 409) this.set(undefined);
      throw err;
    }
  }

  private set(problem: string | undefined): void {
    if (problem === this.current) return;
    if (problem) this.opts.log.error({ problem }, 'not ready: this replica cannot keep its Lease');
    else this.opts.log.info('the Lease is kept again: ready as far as the Lease goes');
    this.current = problem;
  }
}
