// Two managed routes (Ingresses or HTTPRoutes, across both kinds) may not
// claim the same host and path: the older keeps it (DESIGN §2). Different
// paths on one host are fine — that is what `ekspose.io/path` is for. Pure.
import type { V1Ingress } from '@kubernetes/client-node';
import type { IngressExposure } from '@ekspose/labels';
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
): HostClaim | undefined {
  const ownClaim: HostClaim = (own &&
    claimsOf(own).find((c) => c.host === wanted.host && c.path === wanted.path)) || {
    kind: 'Ingress',
    ...self,
    host: wanted.host,
    path: wanted.path,
    createdAt: Number.POSITIVE_INFINITY,
  };
  let holder: HostClaim | undefined;
  for (const claim of claims) {
    // The Deployment's own routes (an Ingress and its HTTPRoute replacement, for a moment) never block each other.
    if (claim.namespace === self.namespace && claim.name === self.name) continue;
    if (claim.host !== wanted.host || claim.path !== wanted.path) continue;
    if (olderThan(claim, ownClaim) && (!holder || olderThan(claim, holder))) holder = claim;
  }
  return holder;
}

const hostPathKey = (host: string, path: string) => `${host} ${path}`;
const objectKeyOf = (obj: RouteObject) => `${isHttpRoute(obj) ? 'HTTPRoute' : 'Ingress'}/${obj.metadata?.namespace}/${obj.metadata?.name}`;

/**
 * Managed Ingress claims by host and path, kept current from the Ingress
 * informer's events, so a host check costs the claims on that host rather
 * than a scan of every Ingress in the cluster.
 */
export class HostIndex {
  private readonly byHostPath = new Map<string, Map<string, HostClaim>>();
  private readonly byObject = new Map<string, string[]>();

  upsert(obj: RouteObject): void {
    this.remove(obj);
    if (!isManaged(obj.metadata)) return;
    const objectKey = objectKeyOf(obj);
    const keys: string[] = [];
    for (const claim of claimsOf(obj)) {
      const k = hostPathKey(claim.host, claim.path);
      let bucket = this.byHostPath.get(k);
      if (!bucket) this.byHostPath.set(k, (bucket = new Map()));
      bucket.set(objectKey, claim);
      keys.push(k);
    }
    this.byObject.set(objectKey, keys);
  }

  remove(obj: RouteObject): void {
    const objectKey = objectKeyOf(obj);
    for (const k of this.byObject.get(objectKey) ?? []) {
      const bucket = this.byHostPath.get(k);
      bucket?.delete(objectKey);
      if (bucket?.size === 0) this.byHostPath.delete(k);
    }
    this.byObject.delete(objectKey);
  }

  claims(host: string, path: string): HostClaim[] {
    return [...(this.byHostPath.get(hostPathKey(host, path))?.values() ?? [])];
  }
}
