// Fakes and fixtures shared by the reconciler tests (sample-controller style).
// The API fake behaves like the API server where the reconcilers depend on it:
// objects kept by name, create of an existing name → 409, RFC 7386 merge patch
// with a resourceVersion precondition (stale → 409), delete with a uid
// precondition (wrong uid → 409), 404 when missing, and every write delivered
// to the label-selected informer cache as the watch would deliver it. The
// event fake keeps per-uid records that tests can add before or after a watch
// event. Every call lands in one ordered list of actions, so a test can assert
// exactly what was done, or that nothing was.
// Not named *.test.ts, so the test runner does not run it on its own.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1Deployment, V1Ingress, V1ObjectMeta, V1Service } from '@kubernetes/client-node';
import { type ExposeSpec, LABEL_MANAGED_BY, MANAGED_BY_VALUE, parseExposeSpec } from '@ekspose/labels';
import { type Settings, loadSettings } from './settings';
import { ManualClock } from '@ekspose/k8s/manual-clock';
import { Informer, type InvolvedObject, type KubeObjectLike, type WatchEventType, identityOnly } from '@ekspose/k8s';
import { LABEL_DEPLOYMENT } from '@ekspose/labels';
import type { DeletionAnswer, EventInput, EventKind, ExposedObject, ExposureAnswer, PublishOptions, PublishResult } from '@ekspose/events';
import type { MergePatch } from './drift';
import type { ExposeEvents } from './event-port';
import type { Decision, ExposeMetrics } from './expose-metrics';
import type { OwnedObject, OwnedObjectApi } from './kind-descriptors';

export const NS = 'shop';
export const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
export const silent = pino({ level: 'silent' });

export function defaultSettings(env: Record<string, string> = {}): Settings {
  const loaded = loadSettings(env);
  assert.ok(loaded.ok);
  return loaded.settings;
}

// ---------------------------------------------------------------- fixtures

export interface DeploymentFixture {
  uid?: string;
  rv?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deleting?: boolean;
  namespace?: string;
}

export function deployment(name: string, f: DeploymentFixture = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: f.namespace ?? NS,
      uid: f.uid ?? `uid-${name}`,
      resourceVersion: f.rv ?? '100',
      labels: f.labels ?? {},
      ...(f.annotations ? { annotations: f.annotations } : {}),
      creationTimestamp: new Date('2025-01-01T00:00:00Z'),
      ...(f.deleting ? { deletionTimestamp: new Date('2025-06-01T11:59:00Z') } : {}),
    },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } } } },
  };
}

/** The spec ekspose reads from `dep`; fails the test if `dep` is not one to expose. */
export function specOf(dep: V1Deployment, settings = defaultSettings()): ExposeSpec {
  const parsed = parseExposeSpec(dep, settings);
  assert.equal(parsed.kind, 'expose');
  return (parsed as { spec: ExposeSpec }).spec;
}

// Independent of the product's builders (desired-objects.ts): what docs/design.md §2.1 says the objects are.

/** The metadata of an object ekspose owns for the Deployment `name` (uid `ownerUid`). */
export function expectedMetadata(name: string, ownerUid: string, namespace = NS): V1ObjectMeta {
  return {
    name,
    namespace,
    labels: { 'app.kubernetes.io/managed-by': 'ekspose', 'ekspose.io/deployment': name },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: ownerUid, controller: true }],
  };
}

export function expectedService(name: string, f: { port?: number; targetPort?: number | string; ownerUid?: string } = {}): V1Service {
  const port = f.port ?? 80;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: expectedMetadata(name, f.ownerUid ?? `uid-${name}`),
    spec: {
      type: 'ClusterIP',
      selector: { app: name },
      ports: [{ name: 'http', protocol: 'TCP', port, targetPort: (f.targetPort ?? port) as never }],
    },
  };
}

export function expectedIngress(name: string, f: { port?: number; host?: string; path?: string; ownerUid?: string } = {}): V1Ingress {
  const host = f.host ?? `${name}.${NS}.ekspose.local`;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: expectedMetadata(name, f.ownerUid ?? `uid-${name}`),
    spec: {
      rules: [
        {
          host,
          http: { paths: [{ path: f.path ?? '/', pathType: 'Prefix', backend: { service: { name, port: { number: f.port ?? 80 } } } }] },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------- actions

export type Action =
  | { verb: 'create'; kind: string; key: string; body: unknown }
  | { verb: 'read'; kind: string; key: string }
  | { verb: 'patch'; kind: string; key: string; patch: MergePatch }
  | { verb: 'delete'; kind: string; key: string; uid: string }
  | { verb: 'publish'; kind: EventKind; payload: Record<string, unknown>; msgId?: string }
  | { verb: 'readDeployment'; key: string }
  | { verb: 'wasDeploymentDeleted'; namespace: string; name: string; uid: string }
  | { verb: 'wasExposed'; namespace: string; name: string; uid: string; object: ExposedObject };

/** The actions that change something: writes to the API server and publishes. */
export const writesOf = (actions: Action[]) => actions.filter((a) => ['create', 'patch', 'delete', 'publish'].includes(a.verb));

export const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

// ---------------------------------------------------------------- the API server fake

/** RFC 7386 JSON merge patch: objects merge key by key, null removes, anything else (arrays too) replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

const isManagedObject = (obj: OwnedObject) => obj.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_VALUE;

/** What the names informer keeps of each object (as run-controllers' nameInformer does). */
export const identityOfObject = identityOnly([LABEL_MANAGED_BY, LABEL_DEPLOYMENT]);

/**
 * One kind's objects as the API server keeps them. Writes are delivered as the
 * two label-selected watches deliver them: managed objects to the informer
 * `cache` (when linked), the others to the names informer (metadata only). An
 * object whose label changes leaves one (a DELETED there) and joins the other.
 */
export class FakeObjectStore<T extends OwnedObject> {
  private readonly objects = new Map<string, T>();
  private rv = 1000;
  private created = 0;
  private push?: (type: WatchEventType, obj: T) => void;
  private pushName?: (type: WatchEventType, obj: OwnedObject) => void;

  constructor(readonly kind: 'Service' | 'Ingress' | 'HTTPRoute') {}

  /** Objects already on the server at the start (their uid and resourceVersion as given). */
  seed(...objs: T[]): this {
    for (const obj of objs) this.objects.set(keyOf(obj), structuredClone(obj));
    return this;
  }

  linkCache(push: (type: WatchEventType, obj: T) => void): void {
    this.push = push;
  }

  linkNames(push: (type: WatchEventType, obj: OwnedObject) => void): void {
    this.pushName = push;
  }

  get(namespace: string, name: string): T | undefined {
    const obj = this.objects.get(`${namespace}/${name}`);
    return obj && structuredClone(obj);
  }

  list(): T[] {
    return [...this.objects.values()].map((o) => structuredClone(o));
  }

  /** A deletion by someone else (a user's kubectl delete), seen by the watch. */
  deleteByUser(namespace: string, name: string): void {
    const live = this.objects.get(`${namespace}/${name}`);
    assert.ok(live, `no ${this.kind} ${namespace}/${name} to delete`);
    this.delete(namespace, name, live.metadata!.uid!);
  }

  /** Removes an object behind the cache's back (a deletion whose watch event has not arrived). */
  remove(namespace: string, name: string): void {
    this.objects.delete(`${namespace}/${name}`);
  }

  read(namespace: string, name: string): T {
    const obj = this.get(namespace, name);
    if (!obj) throw apiError(404);
    return obj;
  }

  create(namespace: string, body: T): T {
    const key = `${namespace}/${body.metadata?.name}`;
    if (this.objects.has(key)) throw apiError(409);
    this.created++;
    const stored = {
      ...structuredClone(body),
      metadata: {
        ...structuredClone(body.metadata),
        namespace,
        uid: `new-${this.kind}-uid${this.created > 1 ? `-${this.created}` : ''}`,
        resourceVersion: String(++this.rv),
        creationTimestamp: new Date(NOW),
      },
    } as T;
    this.objects.set(key, stored);
    this.deliver(undefined, stored);
    return structuredClone(stored);
  }

  patch(namespace: string, name: string, patch: MergePatch): T {
    const live = this.objects.get(`${namespace}/${name}`);
    if (!live) throw apiError(404);
    const wantedRv = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (wantedRv !== undefined && wantedRv !== live.metadata?.resourceVersion) throw apiError(409);
    const next = applyMergePatch(live, patch) as T;
    next.metadata = { ...next.metadata, uid: live.metadata?.uid, resourceVersion: String(++this.rv) };
    this.objects.set(`${namespace}/${name}`, next);
    this.deliver(live, next);
    return structuredClone(next);
  }

  delete(namespace: string, name: string, uid: string): void {
    const live = this.objects.get(`${namespace}/${name}`);
    if (!live) throw apiError(404);
    if (live.metadata?.uid !== uid) throw apiError(409);
    this.objects.delete(`${namespace}/${name}`);
    if (isManagedObject(live)) this.push?.('DELETED', structuredClone(live));
    else this.pushName?.('DELETED', identityOfObject(live));
  }

  private deliver(before: T | undefined, after: T): void {
    const was = before === undefined ? undefined : isManagedObject(before);
    if (isManagedObject(after)) {
      if (was === false) this.pushName?.('DELETED', identityOfObject(before!));
      this.push?.(was === true ? 'MODIFIED' : 'ADDED', structuredClone(after));
    } else {
      if (was === true) this.push?.('DELETED', structuredClone(before!));
      this.pushName?.(was === false ? 'MODIFIED' : 'ADDED', identityOfObject(after));
    }
  }
}

function keyOf(obj: OwnedObject): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.name}`;
}

export type ObjectApiVerb = 'read' | 'create' | 'patch' | 'delete';

/**
 * An OwnedObjectApi over a FakeObjectStore that records each call in `actions`.
 * `control` scripts transport failures (a 500, a 503) for the next creates and
 * deletes; everything else the store answers as the API server would. A verb
 * left out of `allow` throws, so a reconciler that must never make that call
 * fails the test even where the actions are not compared.
 */
export function fakeObjectApi<T extends OwnedObject>(
  store: FakeObjectStore<T>,
  actions: Action[],
  allow: readonly ObjectApiVerb[] = ['read', 'create', 'patch', 'delete'],
) {
  const kind = store.kind;
  const control = { createErrors: [] as unknown[], deleteErrors: [] as unknown[] };
  const allowed = (verb: ObjectApiVerb) => {
    if (!allow.includes(verb)) throw new Error(`unexpected ${verb} of a ${kind}`);
  };
  const api: OwnedObjectApi<T> = {
    read: async (namespace, name) => {
      allowed('read');
      actions.push({ verb: 'read', kind, key: `${namespace}/${name}` });
      return store.read(namespace, name);
    },
    create: async (namespace, body) => {
      allowed('create');
      actions.push({ verb: 'create', kind, key: `${namespace}/${body.metadata?.name}`, body: structuredClone(body) });
      const err = control.createErrors.shift();
      if (err) throw err;
      return store.create(namespace, body);
    },
    patch: async (namespace, name, patch) => {
      allowed('patch');
      actions.push({ verb: 'patch', kind, key: `${namespace}/${name}`, patch: structuredClone(patch) });
      return store.patch(namespace, name, patch);
    },
    delete: async (namespace, name, uid) => {
      allowed('delete');
      actions.push({ verb: 'delete', kind, key: `${namespace}/${name}`, uid });
      const err = control.deleteErrors.shift();
      if (err) throw err;
      store.delete(namespace, name, uid);
    },
  };
  return { api, control };
}

/** A real Informer over a fixed list; `push` plays watch events into it. */
export async function cachedInformer<T extends KubeObjectLike>(resource: string, items: T[]) {
  let onEvent: ((type: WatchEventType, object: unknown) => void) | undefined;
  const informer = new Informer<T>({
    resource,
    list: async () => ({ items: structuredClone(items), metadata: { resourceVersion: '1' } }),
    watch: async (_params, handler) => {
      onEvent = handler;
      return { abort: () => undefined };
    },
    log: silent,
    clock: new ManualClock({ start: NOW }),
  });
  informer.start();
  await informer.waitForSync();
  await new Promise<void>((resolve) => setImmediate(resolve));
  const push = (type: WatchEventType, obj: T) => {
    assert.ok(onEvent, 'watch not started');
    onEvent(type, structuredClone(obj));
  };
  return { informer, push };
}

/** A store seeded with `objects`, the managed-only informer that watches it, and the names informer (every object, metadata only). */
export async function storeWithCache<T extends OwnedObject & KubeObjectLike>(kind: 'Service' | 'Ingress' | 'HTTPRoute', objects: T[]) {
  const store = new FakeObjectStore<T>(kind).seed(...objects);
  const resource = { Service: 'services', Ingress: 'ingresses', HTTPRoute: 'httproutes' }[kind];
  const cache = await cachedInformer<T>(resource, objects.filter(isManagedObject));
  const names = await cachedInformer<OwnedObject & KubeObjectLike>(`${resource}/metadata`, objects.filter((o) => !isManagedObject(o)).map(identityOfObject));
  store.linkCache(cache.push);
  store.linkNames(names.push);
  return { store, cache, names };
}

// ---------------------------------------------------------------- NATS fake

/**
 * The event bus as the reconcilers use it, with the stream's memory: a
 * deployment.deleted or deployment.exposed publish is a record that the
 * lookups then find (per uid). `up: false` is NATS down: publishes fail and
 * lookups answer 'unknown'. Tests may add records directly, before or after a
 * watch event.
 */
export class FakeEvents implements ExposeEvents {
  up = true;
  readonly deleted = new Set<string>();
  readonly exposed: Array<{ uid: string; service: boolean; ingress: boolean; httproute: boolean }> = [];

  constructor(private readonly actions: Action[]) {}

  publish = async <K extends EventKind>(kind: K, payload: EventInput<K>, opts?: PublishOptions): Promise<PublishResult> => {
    const p = payload as unknown as Record<string, unknown>;
    this.actions.push({ verb: 'publish', kind, payload: structuredClone(p), ...(opts?.msgId ? { msgId: opts.msgId } : {}) });
    if (!this.up) return { ok: false, error: 'NATS down' };
    if (kind === 'deployment.deleted') this.deleted.add(String(p.uid));
    if (kind === 'deployment.exposed') this.exposed.push({ uid: String(p.uid), service: p.service !== null, ingress: p.ingress !== null, httproute: (p.httproute ?? null) !== null });
    return { ok: true, seq: this.actions.length, duplicate: false };
  };

  wasDeploymentDeleted = async (namespace: string, name: string, uid: string): Promise<DeletionAnswer> => {
    this.actions.push({ verb: 'wasDeploymentDeleted', namespace, name, uid });
    if (!this.up) return 'unknown';
    return this.deleted.has(uid) ? 'deleted' : 'not-deleted';
  };

  wasExposed = async (namespace: string, name: string, uid: string, object: ExposedObject): Promise<ExposureAnswer> => {
    this.actions.push({ verb: 'wasExposed', namespace, name, uid, object });
    if (!this.up) return 'unknown';
    return this.exposed.some((r) => r.uid === uid && r[object]) ? 'exposed' : 'not-exposed';
  };
}

/** The live GET of a Deployment: records the read and finds it in `live` (undefined, as after a 404, when not there). */
export function liveDeploymentReader(actions: Action[], live: V1Deployment[] = []) {
  return async (namespace: string, name: string): Promise<V1Deployment | undefined> => {
    actions.push({ verb: 'readDeployment', key: `${namespace}/${name}` });
    const found = live.find((d) => d.metadata?.namespace === namespace && d.metadata?.name === name);
    return found && structuredClone(found);
  };
}

export interface Recorded {
  type: 'Warning' | 'Normal';
  reason: string;
  message: string;
  on: InvolvedObject;
}

/** An EventRecorder that keeps every Kubernetes Event it is asked to record. */
export function fakeRecorder() {
  const recorded: Recorded[] = [];
  const record = (type: Recorded['type']) => (on: InvolvedObject, reason: string, message: string) =>
    void recorded.push({ type, reason, message, on });
  return { recorder: { warning: record('Warning'), normal: record('Normal') }, recorded };
}

/** Metrics that keep the writes counted and the decisions taken, which some tests assert. */
export function fakeMetrics() {
  const decisions: Decision[] = [];
  const contradictions: string[] = [];
  const written: string[] = [];
  const metrics = { objectWritten: (kind: string, action: string) => void written.push(`${action} ${kind}`) };
  const exposeMetrics: ExposeMetrics = {
    invalidSpec: () => undefined,
    countInvalid: () => undefined,
    conflict: () => undefined,
    decision: (_kind, decision) => void decisions.push(decision),
    refused: () => undefined,
    contradicted: () => void contradictions.push('contradicted'),
  };
  return { metrics, exposeMetrics, decisions, written, contradictions };
}
