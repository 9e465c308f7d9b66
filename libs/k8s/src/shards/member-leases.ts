// Where a controller's replicas say which hash ranges they hold: one
// coordination.k8s.io Lease per replica, `ekspose-<controller>-member-<identity>`
// in POD_NAMESPACE, labelled with the controller, listing in annotations the
// EKSPOSE_SHARDS it runs with and the ranges it holds and claims. Each replica
// writes only its own Lease (once per retry period) and lists all of them
// (see shard-assignment.ts for why that is enough).
import { V1MicroTime } from '@kubernetes/client-node';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { statusCodeOf } from '../api/api-errors';
import type { MemberLease } from './shard-members';

export const MEMBER_LABEL = 'ekspose.io/shard-member-of';
export const SHARDS_ANNOTATION = 'ekspose.io/shards';
export const HELD_ANNOTATION = 'ekspose.io/held';
export const CLAIMED_ANNOTATION = 'ekspose.io/claimed';

/** What this replica writes into its own Lease each round. */
export interface OwnMemberLease {
  shards: number;
  held: readonly number[];
  claimed: readonly number[];
  leaseDurationMs: number;
}

export interface MemberStore {
  /** Every member Lease of this controller, this replica's own included. */
  list(): Promise<MemberLease[]>;
  /** Writes (or creates) this replica's Lease; any write, even an unchanged one, makes a new version. */
  write(own: OwnMemberLease): Promise<void>;
  /** Deletes this replica's Lease (at shutdown, after every range was let go). */
  remove(): Promise<void>;
  /** Deletes another member's Lease (by its name) only if it is still at `version` (a replica long gone). */
  removeStale(leaseName: string, version: string): Promise<void>;
}

/** A Lease name (DNS subdomain, at most 253) for a replica identity, which may be any string. */
export function memberLeaseName(controller: string, identity: string): string {
  const safe = identity
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `ekspose-${controller}-member-${safe || 'replica'}`.slice(0, 253).replace(/[^a-z0-9]+$/, '');
}

/** "0,3,11" → [0, 3, 11]; entries that are not range numbers of `shards` are left out (and said). */
export function parseRangeList(text: string | undefined, shards: number): { ranges: number[]; invalid: string[] } {
  const ranges: number[] = [];
  const invalid: string[] = [];
  for (const part of (text ?? '').split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const n = /^[0-9]+$/.test(part) ? Number(part) : Number.NaN;
    if (Number.isInteger(n) && n < shards) ranges.push(n);
    else invalid.push(part);
  }
  return { ranges: [...new Set(ranges)].sort((a, b) => a - b), invalid };
}

/** A member Lease as the assignment reads it; undefined for a Lease that says no shard count (not ours to judge). */
export function memberFromLease(lease: V1Lease): MemberLease | undefined {
  const annotations = lease.metadata?.annotations ?? {};
  const shards = Number(annotations[SHARDS_ANNOTATION]);
  if (!Number.isInteger(shards) || shards < 1) return undefined;
  const holder = lease.spec?.holderIdentity ?? '';
  return {
    identity: holder || (lease.metadata?.name ?? ''),
    shards,
    held: parseRangeList(annotations[HELD_ANNOTATION], shards).ranges,
    claimed: parseRangeList(annotations[CLAIMED_ANNOTATION], shards).ranges,
    leaseDurationMs: (lease.spec?.leaseDurationSeconds ?? 15) * 1000,
    released: holder === '',
    version: lease.metadata?.resourceVersion ?? '',
    ...(lease.metadata?.name ? { name: lease.metadata.name } : {}),
  };
}

/** The Lease a replica writes: its identity as holder, its ranges in annotations. */
export function memberLease(
  who: { name: string; namespace: string; controller: string; identity: string; resourceVersion?: string; acquired: V1MicroTime },
  own: OwnMemberLease,
): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: who.name,
      namespace: who.namespace,
      resourceVersion: who.resourceVersion,
      labels: { [MEMBER_LABEL]: who.controller, 'app.kubernetes.io/managed-by': 'ekspose' },
      annotations: {
        [SHARDS_ANNOTATION]: String(own.shards),
        [HELD_ANNOTATION]: own.held.join(','),
        [CLAIMED_ANNOTATION]: own.claimed.join(','),
      },
    },
    spec: {
      holderIdentity: who.identity,
      // Rounded up, as the leader Lease is: the others never wait less than this replica counts on.
      leaseDurationSeconds: Math.max(1, Math.ceil(own.leaseDurationMs / 1000)),
      acquireTime: who.acquired,
      renewTime: new V1MicroTime(Date.now()),
    },
  };
}

/**
 * The controller's leader Lease (`ekspose-<controller>`, EKSPOSE_SHARDS=1) as a member that holds
 * the whole space with a count of 1: while a leader lives, sharded replicas of the same controller
 * (a rolling update from 1 to N) take nothing, and hand back what they hold. No name: never removed as stale.
 */
export function leaderAsMember(lease: V1Lease): MemberLease | undefined {
  const holder = lease.spec?.holderIdentity ?? '';
  if (!holder) return undefined;
  return {
    identity: holder,
    shards: 1,
    held: [0],
    claimed: [],
    leaseDurationMs: (lease.spec?.leaseDurationSeconds ?? 15) * 1000,
    released: false,
    version: lease.metadata?.resourceVersion ?? '',
    leader: true,
  };
}

export function kubernetesMemberStore(api: CoordinationV1Api, namespace: string, controller: string, identity: string): MemberStore {
  const name = memberLeaseName(controller, identity);
  const leaderLease = `ekspose-${controller}`;
  // The last version this replica wrote: the next write replaces exactly that one.
  let resourceVersion: string | undefined;
  let acquired: V1MicroTime | undefined;
  const body = (own: OwnMemberLease): V1Lease => {
    acquired ??= new V1MicroTime(Date.now());
    return memberLease({ name, namespace, controller, identity, resourceVersion, acquired }, own);
  };
  return {
    // The members by label (the server filters: POD_NAMESPACE may hold many other Leases, read every
    // retry period by every replica) and the leader Lease, which has no such label, by name.
    async list() {
      const [list, leader] = await Promise.all([
        api.listNamespacedLease({ namespace, labelSelector: `${MEMBER_LABEL}=${controller}` }),
        api.readNamespacedLease({ name: leaderLease, namespace }).catch((err: unknown) => {
          if (statusCodeOf(err) === 404) return undefined;
          throw err;
        }),
      ]);
      const members = list.items.filter((l) => l.metadata?.labels?.[MEMBER_LABEL] === controller).map(memberFromLease);
      return [...members, leader && leaderAsMember(leader)].filter((m): m is MemberLease => m !== undefined);
    },
    async write(own) {
      try {
        const written = resourceVersion
          ? await api.replaceNamespacedLease({ name, namespace, body: body(own) })
          : await api.createNamespacedLease({ namespace, body: body(own) });
        resourceVersion = written.metadata?.resourceVersion;
      } catch (err) {
        const code = statusCodeOf(err);
        // Only this replica writes its Lease, so a 409 or 404 means it was edited or deleted by hand
        // (or a create after a lost answer): read it again, and the next round writes over it.
        if (code === 409 || code === 404) {
          try {
            resourceVersion = (await api.readNamespacedLease({ name, namespace })).metadata?.resourceVersion;
          } catch (readErr) {
            if (statusCodeOf(readErr) === 404) resourceVersion = undefined;
          }
        }
        throw err;
      }
    },
    async remove() {
      try {
        await api.deleteNamespacedLease({ name, namespace, body: resourceVersion ? { preconditions: { resourceVersion } } : {} });
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw err;
      } finally {
        resourceVersion = undefined;
      }
    },
    async removeStale(leaseName, version) {
      try {
        await api.deleteNamespacedLease({ name: leaseName, namespace, body: { preconditions: { resourceVersion: version } } });
      } catch (err) {
        // Renewed since (409) or already gone (404): nothing to do.
        if (statusCodeOf(err) !== 404 && statusCodeOf(err) !== 409) throw err;
      }
    },
  };
}
