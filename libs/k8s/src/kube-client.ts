// Kubernetes client setup and the list/watch adapters the informers use.
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  ResponseContext,
  Watch,
  type RequestContext,
  setHeaderOptions,
  type V1Deployment,
  type V1Ingress,
  type V1Service,
} from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import type { ListFn, ListParams, WatchFn } from './informer';

export interface KubeClients {
  config: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  networking: NetworkingV1Api;
  coordination: CoordinationV1Api;
  /** events.k8s.io/v1: the Events ekspose records. */
  events: EventsV1Api;
  /** Custom resources (the Gateway API's HTTPRoutes). */
  custom: CustomObjectsApi;
}

/**
 * Loads credentials as kubectl does: KUBECONFIG (a ':'-separated list, merged),
 * else ~/.kube/config, else the in-cluster service account. Throws a clear
 * error when none of these names a cluster.
 */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    const source = process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : '~/.kube/config or in-cluster';
    throw new Error(`cannot load the kubeconfig (${source}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new Error(
      'no Kubernetes cluster configured: set KUBECONFIG, create ~/.kube/config, or run in a Pod with a service account',
    );
  }
  return kc;
}

const reusing = new WeakSet<KubeConfig>();

/** How many distinct TLS identities (a rotated client certificate makes a new one) keep their connections. */
const MAX_AGENTS = 4;

const bytesOf = (value: unknown): Buffer =>
  Buffer.isBuffer(value) ? value : Buffer.from(Array.isArray(value) ? value.map((v) => String(v)).join('\n') : value === undefined ? '' : String(value));

/**
 * client-node 1.x makes a new https.Agent for every request, so every request
 * opens a new connection: a TLS handshake and a new SecureContext (parsing the
 * CA and client certificate) each time. Measured at 2,000 Deployments, that was
 * most of the deployment-controller's CPU. This keeps one keep-alive agent per
 * TLS identity (CA, client certificate and key, server name, verification),
 * so connections are reused; headers (tokens, which may rotate) are still set
 * per request by client-node. Proxies keep client-node's own agents.
 */
export function reuseConnections(config: KubeConfig): KubeConfig {
  // Once per config: every client made from it shares the agents (createKubeClients may be called again on it).
  if (reusing.has(config)) return config;
  reusing.add(config);
  const agents = new Map<string, Agent>();
  const perRequest = config.applySecurityAuthentication.bind(config);
  config.applySecurityAuthentication = async (context) => {
    await perRequest(context);
    const fresh = context.getAgent();
    if (!(fresh instanceof Agent) || fresh.constructor !== Agent) return;
    const o = fresh.options;
    const key = createHash('sha256')
      .update(JSON.stringify([o.rejectUnauthorized, o.servername, o.passphrase]))
      .update(bytesOf(o.ca))
      .update(bytesOf(o.cert))
      .update(bytesOf(o.key))
      .update(bytesOf(o.pfx))
      .digest('hex');
    let agent = agents.get(key);
    if (!agent) {
      agent = new Agent({ ...o, keepAlive: true, scheduling: 'lifo' });
      agents.set(key, agent);
      if (agents.size > MAX_AGENTS) {
        const [oldest, stale] = agents.entries().next().value as [string, Agent];
        agents.delete(oldest);
        stale.destroy();
      }
    }
    context.setAgent(agent);
  };
  return config;
}

export function createKubeClients(config: KubeConfig): KubeClients {
  reuseConnections(config);
  return {
    config,
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    networking: config.makeApiClient(NetworkingV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    events: config.makeApiClient(EventsV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
  };
}

/**
 * What a list or watch returns: whole objects, or only their metadata
 * (`PartialObjectMetadata`, as client-go's metadata informers ask for it): a
 * cache of every Service of a cluster at the cost of names, labels and owners.
 */
export type SourceView = 'objects' | 'metadata';

const PARTIAL_OBJECT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const PARTIAL_OBJECT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/** Options for a generated list call: the Accept header that asks for metadata only. */
function listOptions(view: SourceView) {
  return view === 'metadata' ? setHeaderOptions('Accept', PARTIAL_OBJECT_METADATA_LIST) : undefined;
}

/** What a list response's metadata says of the shard selector (client-node's typed lists drop the field). */
type ShardInfo = { selector?: string } | undefined;

/**
 * `"shardInfo":{…}` of a list response, read from the JSON before `"items"`
 * (a list's metadata comes first), without parsing the page twice.
 */
export function shardInfoOf(body: string): ShardInfo {
  const itemsAt = body.indexOf('"items"');
  const head = itemsAt < 0 ? body : body.slice(0, itemsAt);
  const match = /"shardInfo"\s*:\s*(\{[^{}]*\})/.exec(head);
  if (!match) return undefined;
  try {
    return JSON.parse(match[1]!) as ShardInfo;
  } catch {
    return undefined;
  }
}

/**
 * A list call's options with the shardSelector query parameter (client-node
 * 1.4 predates it), and the answer's shardInfo handed to `told`: whether the
 * server applied the selector is the one thing a sharded informer must know.
 */
function shardOptions(selector: string, told: (info: ShardInfo) => void, base?: ReturnType<typeof listOptions>) {
  // The generated object-parameter API runs middleware as client-node's own Observable stub (toPromise, pipe).
  const middleware = {
    pre: (request: RequestContext) => {
      request.setQueryParam('shardSelector', selector);
      return observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) =>
      observable(
        response.body.text().then((text) => {
          told(shardInfoOf(text));
          return new ResponseContext(response.httpStatusCode, response.headers, { text: async () => text, binary: async () => Buffer.from(text) });
        }),
      ),
  };
  return { ...base, middleware: [...(base?.middleware ?? []), middleware] as never, middlewareMergeStrategy: 'append' as const };
}

/** The shape of client-node's Observable stub (gen/rxjsStub), which its middleware must return. */
interface StubObservable<T> {
  toPromise(): Promise<T>;
  pipe<S>(next: (value: T) => S | Promise<S>): StubObservable<S>;
}

function observable<T>(promise: Promise<T>): StubObservable<T> {
  return { toPromise: () => promise, pipe: (next) => observable(promise.then(next)) };
}

/** A generated list call, with the shard selector when the informer has one, and its shardInfo put back on the result. */
async function listWith<R extends { metadata?: object }>(
  p: ListParams,
  view: SourceView,
  call: (options: ReturnType<typeof listOptions>) => Promise<R>,
): Promise<R> {
  if (!p.shardSelector) return call(listOptions(view));
  let info: ShardInfo;
  const result = await call(shardOptions(p.shardSelector, (i) => (info = i), listOptions(view)));
  if (info) result.metadata = { ...result.metadata, shardInfo: info };
  return result;
}

/** The same config, with an Accept header on the requests client-node's Watch makes. */
function acceptingOn(config: KubeConfig, accept: string): KubeConfig {
  const wrapped = Object.create(config) as KubeConfig;
  wrapped.applyToFetchOptions = async (opts) => {
    const init = await config.applyToFetchOptions(opts);
    (init.headers as unknown as Headers).set('Accept', accept);
    return init;
  };
  return wrapped;
}

export function watchPath(config: KubeConfig, path: string, view: SourceView = 'objects'): WatchFn {
  const watcher = new Watch(view === 'metadata' ? acceptingOn(config, PARTIAL_OBJECT_METADATA) : config);
  return async (params, onEvent, onDone) => {
    const controller = await watcher.watch(path, { ...params }, (type, obj) => onEvent(type as never, obj), onDone);
    return { abort: () => controller.abort() };
  };
}

/** The informer's list parameters as client-node names them (`_continue`). */
function pageParams(p: ListParams): { labelSelector?: string; limit?: number; _continue?: string } {
  return { labelSelector: p.labelSelector, limit: p.limit, _continue: p.continue };
}

export interface ResourceSource<T> {
  resource: string;
  list: ListFn<T>;
  watch: WatchFn;
}

export function deploymentSource(clients: KubeClients): ResourceSource<V1Deployment> {
  return {
    resource: 'deployments',
    list: (p) => listWith(p, 'objects', (o) => clients.apps.listDeploymentForAllNamespaces(pageParams(p), o)),
    watch: watchPath(clients.config, '/apis/apps/v1/deployments'),
  };
}

export function serviceSource(clients: KubeClients, view: SourceView = 'objects'): ResourceSource<V1Service> {
  return {
    resource: 'services',
    list: (p) => listWith(p, view, (o) => clients.core.listServiceForAllNamespaces(pageParams(p), o)),
    watch: watchPath(clients.config, '/api/v1/services', view),
  };
}

export function ingressSource(clients: KubeClients, view: SourceView = 'objects'): ResourceSource<V1Ingress> {
  return {
    resource: 'ingresses',
    list: (p) => listWith(p, view, (o) => clients.networking.listIngressForAllNamespaces(pageParams(p), o)),
    watch: watchPath(clients.config, '/apis/networking.k8s.io/v1/ingresses', view),
  };
}

/** A custom resource, e.g. { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' }. */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

/** List and watch a custom resource in every namespace. */
export function customResourceSource<T>(clients: KubeClients, r: CustomResource, view: SourceView = 'objects'): ResourceSource<T> {
  return {
    resource: r.plural,
    list: async (p) =>
      (await listWith(p, view, (o) => clients.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, ...pageParams(p) }, o))) as never,
    watch: watchPath(clients.config, `/apis/${r.group}/${r.version}/${r.plural}`, view),
  };
}

/**
 * Whether the API server serves `plural` in `group/version` (discovery): a CRD
 * that may be installed after the controller started. Throws only for errors
 * other than "no such group/version".
 */
export async function isResourceServed(clients: KubeClients, r: CustomResource): Promise<boolean> {
  try {
    const list = (await clients.custom.getAPIResources({ group: r.group, version: r.version })) as { resources?: Array<{ name: string }> };
    return (list.resources ?? []).some((res) => res.name === r.plural);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

/** client-node 1.x sends PATCH as JSON Patch unless told otherwise; ekspose sends merge patches. */
export function mergePatchOptions() {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
