// What a sharded replica keeps of every managed route in the cluster for host
// and path conflicts (libs/expose: claimsInformer with the claimsOnly transform,
// and the HostIndex over it), measured in this process: heap after forced GCs
// (node --expose-gc) with the structures built, against the same before.
import { objectKey, slimOwned } from '@ekspose/k8s';
import { HostIndex, type RouteObject, claimsOnly } from '@ekspose/expose';
import { LABEL_DEPLOYMENT, LABEL_MANAGED_BY, parseExposeSpec } from '@ekspose/labels';
import { benchSettings, deploymentFixture, liveIngressFor } from './fixtures';

export interface ClaimsMemory {
  routes: number;
  /** The claims informer's cache: a Map of claimsOnly objects by namespace/name, as the informer keeps them. */
  claimsBytes: number;
  /** The HostIndex built over those claims. */
  indexBytes: number;
  /** For contrast: the whole managed route as the managed cache keeps it (slimOwned). */
  wholeBytes: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** The Ingresses ekspose made for `count` Deployments, as the API server returns them, one at a time (nothing shared). */
function* managedIngresses(count: number): Generator<RouteObject> {
  const settings = benchSettings();
  for (let i = 0; i < count; i++) {
    // Even fixtures ask for an Ingress, each on a host of its own.
    const parsed = parseExposeSpec(deploymentFixture(2 * i), settings);
    if (parsed.kind !== 'expose') throw new Error(`fixture ${2 * i} does not parse`);
    yield liveIngressFor(parsed.spec, 2 * i)!;
  }
}

/** Bytes per route of each structure; undefined without --expose-gc. */
export function claimsIndexMemory(routes: number): ClaimsMemory | undefined {
  if (!gc) return undefined;
  // The transform claimsInformer (libs/expose kind-descriptors.ts) gives its informer.
  const slim = claimsOnly([LABEL_MANAGED_BY, LABEL_DEPLOYMENT]);
  const base = heapAfterGc();
  let cache: Map<string, RouteObject> | undefined = new Map();
  for (const obj of managedIngresses(routes)) {
    const claim = slim(obj);
    cache.set(objectKey(claim), claim);
  }
  const withCache = heapAfterGc();
  let index: HostIndex | undefined = new HostIndex();
  for (const claim of cache.values()) index.upsert(claim);
  if (index.size.routes !== routes) throw new Error(`the HostIndex holds ${index.size.routes} routes of ${routes}`);
  const withIndex = heapAfterGc();
  cache = undefined;
  index = undefined;
  const base2 = heapAfterGc();
  let whole: Map<string, RouteObject> | undefined = new Map();
  for (const obj of managedIngresses(routes)) whole.set(objectKey(obj), slimOwned(obj));
  if (whole.size !== routes) throw new Error(`the fixtures gave ${whole.size} distinct routes of ${routes}`);
  const withWhole = heapAfterGc();
  whole = undefined;
  return { routes, claimsBytes: (withCache - base) / routes, indexBytes: (withIndex - withCache) / routes, wholeBytes: (withWhole - base2) / routes };
}
