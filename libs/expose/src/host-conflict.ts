// Two managed Ingresses may not claim the same host and path: the older
// Ingress keeps it (DESIGN §2). Different paths on one host are fine — that is
// what `ekspose.io/path` is for. Pure.
import type { V1Ingress } from '@kubernetes/client-node';
import type { IngressExposure } from '@ekspose/labels';
import { isManaged } from './ownership';

export interface HostClaim {
  namespace: string;
  name: string;
  host: string;
  path: string;
  createdAt: number;
}

export function claimsOf(ingress: V1Ingress): HostClaim[] {
  const created = ingress.metadata?.creationTimestamp;
  const createdAt = created ? new Date(created).getTime() : Number.POSITIVE_INFINITY;
  const claims: HostClaim[] = [];
  for (const rule of ingress.spec?.rules ?? []) {
    for (const p of rule.http?.paths ?? []) {
      if (rule.host) {
        claims.push({
          namespace: ingress.metadata?.namespace ?? '',
          name: ingress.metadata?.name ?? '',
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
  own: V1Ingress | undefined,
  claims: Iterable<HostClaim>,
): HostClaim | undefined {
  const ownClaim: HostClaim = (own &&
    claimsOf(own).find((c) => c.host === wanted.host && c.path === wanted.path)) || {
    ...self,
    host: wanted.host,
    path: wanted.path,
    createdAt: Number.POSITIVE_INFINITY,
  };
  let holder: HostClaim | undefined;
  for (const claim of claims) {
    if (claim.namespace === self.namespace && claim.name === self.name) continue;
    if (claim.host !== wanted.host || claim.path !== wanted.path) continue;
    if (olderThan(claim, ownClaim) && (!holder || olderThan(claim, holder))) holder = claim;
  }
  return holder;
}

const hostPathKey = (host: string, path: string) => `${host} ${path}`;

/**
 * Managed Ingress claims by host and path, kept current from the Ingress
 * informer's events, so a host check costs the claims on that host rather
 * than a scan of every Ingress in the cluster.
 */
export class HostIndex {
  private readonly byHostPath = new Map<string, Map<string, HostClaim>>();
  private readonly byObject = new Map<string, string[]>();

  upsert(ingress: V1Ingress): void {
    this.remove(ingress);
    if (!isManaged(ingress.metadata)) return;
    const objectKey = `${ingress.metadata?.namespace}/${ingress.metadata?.name}`;
    const keys: string[] = [];
    for (const claim of claimsOf(ingress)) {
      const k = hostPathKey(claim.host, claim.path);
      let bucket = this.byHostPath.get(k);
      if (!bucket) this.byHostPath.set(k, (bucket = new Map()));
      bucket.set(objectKey, claim);
      keys.push(k);
    }
    this.byObject.set(objectKey, keys);
  }

  remove(ingress: V1Ingress): void {
    const objectKey = `${ingress.metadata?.namespace}/${ingress.metadata?.name}`;
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
