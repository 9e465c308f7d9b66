// Two managed routes (Ingresses or HTTPRoutes, across both kinds) may not
// claim the same host and path: the older keeps it (docs/design.md §2.4). Different
// paths on one host are fine — that is what `ekspose.io/path` is for. Pure.
import type { V1Ingress } from '@kubernetes/client-node';
import type { IngressExposure } from '@ekspose/labels';
import { identityOnly } from '@ekspose/k8s';
import type { HttpRoute } from './http-route';
import { isManaged } from './ownership';

export interface HostClaim {
  /** Which kind of route claims it: an Ingress and an HTTPRoute of one name are two objects. */
  kind: 'Ingress' | 'HTTPRoute';
  namespace: string;
  name: string;
  host: string;
  path: string;
  createdAt: number;
}

/** An object that claims hosts: a managed Ingress or HTTPRoute. */
export type RouteObject = V1Ingress | HttpRoute;

function isHttpRoute(obj: RouteObject): obj is HttpRoute {
  return Array.isArray((obj.spec as HttpRoute['spec'])?.hostnames);
}

export function claimsOf(obj: RouteObject): HostClaim[] {
  const created = obj.metadata?.creationTimestamp;
  const createdAt = created ? new Date(created).getTime() : Number.POSITIVE_INFINITY;
  const namespace = obj.metadata?.namespace ?? '';
  const name = obj.metadata?.name ?? '';
  if (isHttpRoute(obj)) {
    const paths = (obj.spec?.rules ?? []).flatMap((rule) => (rule.matches ?? [{}]).map((m) => m.path?.value ?? '/'));
    return (obj.spec?.hostnames ?? []).flatMap((host) => paths.map((path) => ({ kind: 'HTTPRoute' as const, namespace, name, host, path, createdAt })));
  }
  const ingress = obj;
  const claims: HostClaim[] = [];
  for (const rule of ingress.spec?.rules ?? []) {
    for (const p of rule.http?.paths ?? []) {
      if (rule.host) {
        claims.push({
          kind: 'Ingress',
          namespace,
          name,
          host: rule.host,
          path: p.path ?? '/',
          createdAt,
        });
      }
    }
  }
  return claims;
}

/**
 * What the cluster-wide index of host claims keeps of a managed route: who it
 * is (identityOnly) and its hosts and paths, nothing else. With shards, a
 * replica caches whole routes only for its own ranges, but a host may be
 * claimed from any namespace; this is what it keeps of all the others.
 */
export function claimsOnly(keepLabels: readonly string[]): (obj: RouteObject) => RouteObject {
  const identity = identityOnly(keepLabels);
  return (obj) => {
    const metadata = identity(obj).metadata;
    if (isHttpRoute(obj)) {
      const rules = (obj.spec?.rules ?? []).map((rule) => ({ matches: (rule.matches ?? [{}]).map((m) => ({ path: { value: m.path?.value ?? '/' } })) }));
      return { metadata, spec: { hostnames: obj.spec?.hostnames, rules } } as HttpRoute;
    }
    const rules = (obj.spec?.rules ?? []).map((rule) => ({ host: rule.host, http: { paths: (rule.http?.paths ?? []).map((p) => ({ path: p.path ?? '/' })) } }));
    return { metadata, spec: { rules } } as V1Ingress;
  };
}

/** Older first; same instant: by namespace/name, so every replica agrees. */
function olderThan(a: HostClaim, b: HostClaim): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}`;
}

/**
 * The managed Ingress that holds this host and path before ours, if any.
 * `own` is our live Ingress (undefined if it does not exist yet: then any
 * existing claim is older). `claims` are the managed claims on that host and
 * path (from a HostIndex).
 */
export function hostHeldBy(
  wanted: Pick<IngressExposure, 'host' | 'path'>,
  self: { namespace: string; name: string },
  own: RouteObject | undefined,
  claims: Iterable<HostClaim>,
  /** The kind of route being decided: its own claim in the index counts when the cache does not have it yet. */
  ownKind?: HostClaim['kind'],
): HostClaim | undefined {
  const all = [...claims];
  const isSelf = (c: HostClaim) => ownKind !== undefined && c.kind === ownKind && c.namespace === self.namespace && c.name === self.name;
  const ownClaim: HostClaim = (own && claimsOf(own).find((c) => c.host === wanted.host && c.path === wanted.path)) ||
    // The own route may be in the index (written, or seen cluster-wide) before the managed cache has it.
    oldest(all.filter((c) => isSelf(c) && c.host === wanted.host && c.path === wanted.path && Number.isFinite(c.createdAt))) || {
      kind: 'Ingress',
      ...self,
      host: wanted.host,
      path: wanted.path,
      createdAt: Number.POSITIVE_INFINITY,
    };
  let holder: HostClaim | undefined;
  for (const claim of all) {
    // The Deployment's own routes (an Ingress and its HTTPRoute replacement, for a moment) never block each other.
    if (claim.namespace === self.namespace && claim.name === self.name) continue;
    if (claim.host !== wanted.host || claim.path !== wanted.path) continue;
    if (olderThan(claim, ownClaim) && (!holder || olderThan(claim, holder))) holder = claim;
  }
  return holder;
}

function oldest(claims: HostClaim[]): HostClaim | undefined {
  return claims.reduce<HostClaim | undefined>((best, c) => (!best || olderThan(c, best) ? c : best), undefined);
}

/** One host and path, as the index and the wait list key them. */
export type HostPath = Pick<HostClaim, 'host' | 'path'>;
export const hostPathKey = ({ host, path }: HostPath): string => `${host} ${path}`;
const objectKeyOf = (obj: RouteObject) => `${isHttpRoute(obj) ? 'HTTPRoute' : 'Ingress'}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
const claimObjectKey = (c: Pick<HostClaim, 'kind' | 'namespace' | 'name'>) => `${c.kind}/${c.namespace}/${c.name}`;

/**
 * Managed route claims (Ingresses and HTTPRoutes) by host and path, so a host
 * check costs the claims on that host rather than a scan of every route.
 *
 * Exact, not eventually: besides what the informers report (upsert/remove),
 * a claim counts from the moment a writer reserves it, before its create or
 * patch is even sent, and the object the API server returns is recorded at
 * once; so two Deployments wanting one host in the same apply cannot both
 * pass the check, whatever order their watch events come in. Whenever a host
 * and path loses a claim (the holder deleted, moved to another host or path,
 * a reservation dropped), `onFreed` hears of it.
 */
export class HostIndex {
  private readonly byHostPath = new Map<string, Map<string, HostClaim>>();
  private readonly byObject = new Map<string, HostClaim[]>();
  /** Claims a write is about to make, by the route it writes. */
  private readonly reserved = new Map<string, HostClaim>();

  constructor(private readonly onFreed: (freed: HostPath[]) => void = () => undefined) {}

  /** The route as it is now (an informer event, or the API server's answer to our write). */
  upsert(obj: RouteObject): void {
    const objectKey = objectKeyOf(obj);
    const claims = isManaged(obj.metadata) ? claimsOf(obj) : [];
    this.replace(objectKey, claims);
  }

  /** The route is gone. */
  remove(obj: RouteObject): void {
    this.replace(objectKeyOf(obj), []);
  }

  /**
   * Counts `claim` from now until the returned function is called (after the
   * write, successful or not; a successful one has upserted its result by then).
   */
  reserve(claim: HostClaim): () => void {
    const objectKey = claimObjectKey(claim);
    this.reserved.set(objectKey, claim);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.reserved.get(objectKey) !== claim) return;
      this.reserved.delete(objectKey);
      if (this.claims(claim.host, claim.path).length === 0) this.onFreed([claim]);
    };
  }

  claims(host: string, path: string): HostClaim[] {
    const found = [...(this.byHostPath.get(hostPathKey({ host, path }))?.values() ?? [])];
    for (const claim of this.reserved.values()) if (claim.host === host && claim.path === path) found.push(claim);
    return found;
  }

  /** Routes indexed and reservations held: bounded by the managed routes and the writes in flight. */
  get size(): { routes: number; reserved: number } {
    return { routes: this.byObject.size, reserved: this.reserved.size };
  }

  private replace(objectKey: string, claims: HostClaim[]): void {
    const before = this.byObject.get(objectKey) ?? [];
    for (const old of before) {
      const k = hostPathKey(old);
      const bucket = this.byHostPath.get(k);
      bucket?.delete(objectKey);
      if (bucket?.size === 0) this.byHostPath.delete(k);
    }
    if (claims.length > 0) this.byObject.set(objectKey, claims);
    else this.byObject.delete(objectKey);
    for (const claim of claims) {
      const k = hostPathKey(claim);
      let bucket = this.byHostPath.get(k);
      if (!bucket) this.byHostPath.set(k, (bucket = new Map()));
      bucket.set(objectKey, claim);
    }
    const kept = new Set(claims.map(hostPathKey));
    const freed = before.filter((old) => !kept.has(hostPathKey(old)) && this.claims(old.host, old.path).length === 0);
    if (freed.length > 0) this.onFreed(freed);
  }
}
