// Who takes part in sharing a controller's ranges: one Lease per replica, read
// as a list, each judged live or expired the way client-go judges its leader
// Lease — by this replica's own clock, counted from the moment it first saw
// that Lease's current version — never by comparing the Lease's renewTime with
// the local clock, so skew between nodes cannot make two replicas think they
// both hold a range.

/** What one replica's shard Lease says, as read from the API server. */
export interface MemberLease {
  identity: string;
  /** The EKSPOSE_SHARDS the replica runs with: replicas that disagree must not share. */
  shards: number;
  /** Ranges it holds: it watches them and may write for their keys. */
  held: readonly number[];
  /** Ranges it asked for and does not hold yet (see shard-assignment.ts). */
  claimed: readonly number[];
  leaseDurationMs: number;
  /** Emptied holder: the replica stopped and let go of everything. */
  released: boolean;
  /** resourceVersion: any write, even a renew with nothing else changed, makes a new one. */
  version: string;
  /** The Lease's own name, for removing it once its replica is long gone. */
  name?: string;
  /** The controller's leader Lease (EKSPOSE_SHARDS=1), seen as a member holding everything. */
  leader?: boolean;
}

export interface SeenMember {
  lease: MemberLease;
  /** Local clock when this version of the Lease was first seen. */
  changedAt: number;
}

/**
 * The members after one more read. A Lease whose version has not changed keeps
 * the time it was first seen, so its expiry keeps counting down; a new version
 * (the replica renewed) restarts it. Leases no longer listed are gone.
 */
export function observeMembers(previous: ReadonlyMap<string, SeenMember>, leases: readonly MemberLease[], now: number): Map<string, SeenMember> {
  const seen = new Map<string, SeenMember>();
  for (const lease of leases) {
    const before = previous.get(lease.identity);
    const unchanged = before !== undefined && before.lease.version === lease.version;
    seen.set(lease.identity, { lease, changedAt: unchanged ? before.changedAt : now });
  }
  return seen;
}

/** Live: not released, and changed less than its lease duration ago on the local clock. */
export function isLiveMember(member: SeenMember, now: number): boolean {
  return !member.lease.released && member.changedAt + member.lease.leaseDurationMs > now;
}

/** The other replicas that are live now. */
export function liveOthers(members: ReadonlyMap<string, SeenMember>, identity: string, now: number): MemberLease[] {
  return [...members.values()].filter((m) => m.lease.identity !== identity && isLiveMember(m, now)).map((m) => m.lease);
}
