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
import type { ListFn, ListParams, WatchFn } from './list-watch';

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
const MAX_DISPATCHERS = 4;

const bytesOf = (value: unknown): Buffer =>
  Buffer.isBuffer(value) ? value : Buffer.from(Array.isArray(value) ? value.map((v) => String(v)).join('\n') : value === undefined ? '' : String(value));

/** client-node's undici Dispatcher (undici is its dependency, not ours). */
type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** The two KubeConfig methods that choose a request's undici dispatcher (client-node 2.x). */
interface DispatcherMaking {
  createDispatcherOptions: KubeConfig['createDispatcherOptions'];
  createDispatcher(cluster: Parameters<KubeConfig['createDispatcherOptions']>[0], agentOptions: object): Dispatcher | undefined;
}

/**
 * client-node 2.0 makes a new undici Agent for every request (its agent cache
 * is only for WebSockets), so every request opens a new connection: a TLS
 * handshake and a new SecureContext (parsing the CA and client certificate)
 * each time. Measured at 2,000 Deployments (with 1.x, which did the same with
 * https.Agent), that was most of the deployment-controller's CPU. This keeps
 * one dispatcher, with its pool of keep-alive connections, per TLS identity
 * (CA, client certificate and key, server name, verification), built by
 * client-node itself; headers (tokens, which may rotate) are still set per
 * request by client-node. Proxies keep client-node's own dispatchers.
 * `createDispatcher` is private in client-node's types, hence the check: an
 * upgrade that renames it fails here, and in kube-client.test.ts, not silently.
 */
export function reuseConnections(config: KubeConfig): KubeConfig {
  // Once per config: every client made from it shares the dispatchers (createKubeClients may be called again on it).
  if (reusing.has(config)) return config;
  const making = config as unknown as DispatcherMaking;
  if (typeof making.createDispatcher !== 'function' || typeof making.createDispatcherOptions !== 'function') {
    throw new Error('@kubernetes/client-node no longer has KubeConfig.createDispatcher(Options): reuseConnections must be redone for it');
  }
  reusing.add(config);
  const dispatchers = new Map<string, Dispatcher>();
  const perRequest = making.createDispatcher.bind(config);
  making.createDispatcher = (cluster, agentOptions) => {
    const o = making.createDispatcherOptions.call(config, cluster, agentOptions);
    if (o.type !== 'agent') return perRequest(cluster, agentOptions);
    const c = o.connect;
    const key = createHash('sha256')
      .update(JSON.stringify([c.rejectUnauthorized, c.servername, c.passphrase]))
      .update(bytesOf(c.ca))
      .update(bytesOf(c.cert))
      .update(bytesOf(c.key))
      .update(bytesOf(c.pfx))
      .digest('hex');
    let dispatcher = dispatchers.get(key);
    if (!dispatcher) {
      dispatcher = perRequest(cluster, agentOptions)!;
      dispatchers.set(key, dispatcher);
      if (dispatchers.size > MAX_DISPATCHERS) {
        const [oldest, stale] = dispatchers.entries().next().value as [string, Dispatcher];
        dispatchers.delete(oldest);
        // Lets its requests in flight finish, then closes its connections.
        void stale.close().catch(() => undefined);
      }
    }
    return dispatcher;
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

/**
 * Options for a custom-resource list with the shardSelector query parameter:
 * client-node 2.0 has the parameter on its typed lists (and `shardInfo` on
 * their V1ListMeta) but not on CustomObjectsApi.listClusterCustomObject. Its
 * answer is untyped JSON, so `metadata.shardInfo` comes back as the server sent it.
 */
function shardOptions(selector: string, base?: ReturnType<typeof listOptions>) {
  // The generated object-parameter API runs middleware as client-node's own Observable stub (toPromise, pipe).
  const middleware = {
    pre: (request: RequestContext) => {
      request.setQueryParam('shardSelector', selector);
      return observable(Promise.resolve(request));
    },
    post: (response: ResponseContext) => observable(Promise.resolve(response)),
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

/** The same config, with an Accept header on the requests client-node's Watch makes (it takes their headers from applySecurityAuthentication). */
function acceptingOn(config: KubeConfig, accept: string): KubeConfig {
  const wrapped = Object.create(config) as KubeConfig;
  wrapped.applySecurityAuthentication = async (context) => {
    await config.applySecurityAuthentication(context);
    context.setHeaderParam('Accept', accept);
  };
  return wrapped;
}

/**
 * How long client-node's Watch may see no byte before it ends the watch with a
 * TimeoutError. Its default, 30 s (client-node 2.0), is shorter than the API
 * server's bookmark interval (about a minute), so a healthy watch of a quiet
 * resource would end in an error every 30 s and the informer back off and
 * count restarts. Silence is the informer's watchdog's to judge (decision 0001:
 * it restarts after timeoutSeconds + 60 s and says so in its status); this
 * puts client-node's timer past it, a backstop only.
 */
export const watchInactivityMs = (timeoutSeconds: number): number => (timeoutSeconds + 120) * 1000;

/** A client-node Watch whose silence bound is watchInactivityMs(timeoutSeconds), not its 30 s default. */
export function boundedWatch(config: KubeConfig, timeoutSeconds: number): Watch {
  const watcher = new Watch(config);
  // A private field in client-node's types: checked, so an upgrade that renames it fails loudly (and kube-client.test.ts).
  const timed = watcher as unknown as { requestTimeoutMs?: unknown };
  if (typeof timed.requestTimeoutMs !== 'number') throw new Error('@kubernetes/client-node Watch has no requestTimeoutMs any more: boundedWatch must be redone for it');
  timed.requestTimeoutMs = watchInactivityMs(timeoutSeconds);
  return watcher;
}

export function watchPath(config: KubeConfig, path: string, view: SourceView = 'objects'): WatchFn {
  const viewed = view === 'metadata' ? acceptingOn(config, PARTIAL_OBJECT_METADATA) : config;
  return async (params, onEvent, onDone) => {
    const watcher = boundedWatch(viewed, params.timeoutSeconds);
    const controller = await watcher.watch(path, { ...params }, (type, obj) => onEvent(type as never, obj), onDone);
    return { abort: () => controller.abort() };
  };
}

/** The informer's list parameters as client-node's typed lists name them (`_continue`). */
function pageParams(p: ListParams): { labelSelector?: string; limit?: number; _continue?: string; shardSelector?: string } {
  return { labelSelector: p.labelSelector, limit: p.limit, _continue: p.continue, ...(p.shardSelector ? { shardSelector: p.shardSelector } : {}) };
}

export interface ResourceSource<T> {
  resource: string;
  list: ListFn<T>;
  watch: WatchFn;
  /** The same resource listed and watched in one namespace only (what a Role over that namespace allows). */
  inNamespace(namespace: string): ResourceSource<T>;
}

/** Where a source lists and watches: every namespace (undefined) or one. */
type Scope = string | undefined;

/** The API path of a resource in a scope: `/apis/apps/v1/deployments` or `/apis/apps/v1/namespaces/<ns>/deployments`. */
function scopedPath(groupVersion: string, plural: string, namespace: Scope): string {
  return namespace === undefined ? `${groupVersion}/${plural}` : `${groupVersion}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

export function deploymentSource(clients: KubeClients, namespace?: string): ResourceSource<V1Deployment> {
  return {
    resource: 'deployments',
    list: (p) =>
      namespace === undefined ? clients.apps.listDeploymentForAllNamespaces(pageParams(p)) : clients.apps.listNamespacedDeployment({ namespace, ...pageParams(p) }),
    watch: watchPath(clients.config, scopedPath('/apis/apps/v1', 'deployments', namespace)),
    inNamespace: (ns) => deploymentSource(clients, ns),
  };
}

export function serviceSource(clients: KubeClients, view: SourceView = 'objects', namespace?: string): ResourceSource<V1Service> {
  return {
    resource: 'services',
    list: (p) =>
      namespace === undefined
        ? clients.core.listServiceForAllNamespaces(pageParams(p), listOptions(view))
        : clients.core.listNamespacedService({ namespace, ...pageParams(p) }, listOptions(view)),
    watch: watchPath(clients.config, scopedPath('/api/v1', 'services', namespace), view),
    inNamespace: (ns) => serviceSource(clients, view, ns),
  };
}

export function ingressSource(clients: KubeClients, view: SourceView = 'objects', namespace?: string): ResourceSource<V1Ingress> {
  return {
    resource: 'ingresses',
    list: (p) =>
      namespace === undefined
        ? clients.networking.listIngressForAllNamespaces(pageParams(p), listOptions(view))
        : clients.networking.listNamespacedIngress({ namespace, ...pageParams(p) }, listOptions(view)),
    watch: watchPath(clients.config, scopedPath('/apis/networking.k8s.io/v1', 'ingresses', namespace), view),
    inNamespace: (ns) => ingressSource(clients, view, ns),
  };
}

/** A custom resource, e.g. { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' }. */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
}

/** List and watch a custom resource in every namespace (or, with `namespace`, in that one). */
export function customResourceSource<T>(clients: KubeClients, r: CustomResource, view: SourceView = 'objects', namespace?: string): ResourceSource<T> {
  return {
    resource: r.plural,
    list: async (p) => {
      const { shardSelector, ...page } = pageParams(p);
      const options = shardSelector ? shardOptions(shardSelector, listOptions(view)) : listOptions(view);
      const what = { group: r.group, version: r.version, plural: r.plural, ...page };
      const listed = namespace === undefined ? clients.custom.listClusterCustomObject(what, options) : clients.custom.listNamespacedCustomObject({ ...what, namespace }, options);
      return (await listed) as never;
    },
    watch: watchPath(clients.config, scopedPath(`/apis/${r.group}/${r.version}`, r.plural, namespace), view),
    inNamespace: (ns) => customResourceSource<T>(clients, r, view, ns),
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

/** client-node (1.x and 2.x) sends PATCH as JSON Patch unless told otherwise; ekspose sends merge patches. */
export function mergePatchOptions() {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
