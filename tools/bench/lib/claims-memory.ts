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
/**
 * What a measurement holds, reachable from here until the heap has been read:
 * once V8 optimizes the loop, a local that is not read again is dead to the GC,
 * and the structure would be collected before it is weighed.
 */
const held: unknown[] = [];

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

/** The heap's growth while `build`'s result is held (from a GC'd heap to a GC'd heap); the result stays held. */
function grown(build: () => unknown): number {
  const before = heapAfterGc();
  held.push(build());
  return heapAfterGc() - before;
}

/** The claims informer's cache: claimsOnly objects by namespace/name, as the informer keeps them. */
function claimsCache(routes: number): Map<string, RouteObject> {
  // The transform claimsInformer (libs/expose kind-descriptors.ts) gives its informer.
  const slim = claimsOnly([LABEL_MANAGED_BY, LABEL_DEPLOYMENT]);
  const cache = new Map<string, RouteObject>();
  for (const obj of managedIngresses(routes)) {
    const claim = slim(obj);
    cache.set(objectKey(claim), claim);
  }
  return cache;
}

function hostIndexOf(cache: Map<string, RouteObject>): HostIndex {
  const index = new HostIndex();
  for (const claim of cache.values()) index.upsert(claim);
  if (index.size.routes !== cache.size) throw new Error(`the HostIndex holds ${index.size.routes} routes of ${cache.size}`);
  return index;
}

function wholeCache(routes: number): Map<string, RouteObject> {
  const whole = new Map<string, RouteObject>();
  for (const obj of managedIngresses(routes)) whole.set(objectKey(obj), slimOwned(obj));
  if (whole.size !== routes) throw new Error(`the fixtures gave ${whole.size} distinct routes of ${routes}`);
  return whole;
}

/**
 * Bytes per route of each structure, each built in a function of its own: a
 * local of the measuring frame would stay alive or die at the optimizer's
 * whim (on-stack replacement), and move the figures by hundreds of bytes.
 */
function measure(routes: number): ClaimsMemory {
  const claimsBytes = grown(() => claimsCache(routes));
  const indexBytes = grown(() => hostIndexOf(held[0] as Map<string, RouteObject>));
  held.length = 0;
  const wholeBytes = grown(() => wholeCache(routes));
  held.length = 0;
  return { routes, claimsBytes: claimsBytes / routes, indexBytes: indexBytes / routes, wholeBytes: wholeBytes / routes };
}

/** Bytes per route of each structure; undefined without --expose-gc. */
export function claimsIndexMemory(routes: number): ClaimsMemory | undefined {
  if (!gc) return undefined;
  // A pass first, so that the code each step runs is compiled before anything is weighed.
  measure(Math.min(routes, 1_000));
  return measure(routes);
}
