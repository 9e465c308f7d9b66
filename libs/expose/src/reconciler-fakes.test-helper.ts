// Fakes and fixtures shared by the reconciler tests (sample-controller style):
// every call a reconciler makes through its injected I/O lands in one ordered
// list of actions, so a test can assert exactly what was done, or that nothing was.
// Not named *.test.ts, so the test runner does not run it on its own.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { type ExposeSpec, type Settings, loadSettings, parseExposeSpec } from '@ekspose/labels';
import { ManualClock } from './clock';
import { type MergePatch, ingressDrift, serviceDrift } from './drift';
import type { EventRecorder, EventReason, InvolvedDeployment } from './event-recorder';
import type { DeletionRecord, EventSink, PublishKind } from './event-sink';
import { Informer, type KubeObjectLike, type WatchEventType } from './informer';
import type { ControllerMetrics, Decision } from './metrics';
import type { OwnedObjectApi } from './owned-object-api';

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

// ---------------------------------------------------------------- fakes

export type Action =
  | { verb: 'create'; kind: string; key: string; body: unknown }
  | { verb: 'read'; kind: string; key: string }
  | { verb: 'patch'; kind: string; key: string; patch: MergePatch }
  | { verb: 'delete'; kind: string; key: string; uid: string }
  | { verb: 'publish'; kind: PublishKind; payload: Record<string, unknown>; msgId?: string }
  | { verb: 'readDeployment'; key: string }
  | { verb: 'wasDeploymentDeleted'; namespace: string; name: string; uid: string };

export const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

export type ObjectApiVerb = 'read' | 'create' | 'patch' | 'delete';

/**
 * An OwnedObjectApi that records each call in `actions`. `control` scripts its answers: errors for the next
 * creates and deletes, and what a read finds (a 404 when nothing). A verb left out of `allow` throws, so a
 * reconciler that must never make that call fails the test even where the actions are not compared.
 */
export function fakeObjectApi<T extends V1Service | V1Ingress>(
  kind: 'Service' | 'Ingress',
  actions: Action[],
  allow: readonly ObjectApiVerb[] = ['read', 'create', 'patch', 'delete'],
) {
  const control = {
    createErrors: [] as unknown[],
    deleteErrors: [] as unknown[],
    readResult: undefined as T | undefined,
  };
  const allowed = (verb: ObjectApiVerb) => {
    if (!allow.includes(verb)) throw new Error(`unexpected ${verb} of a ${kind}`);
  };
  const api: OwnedObjectApi<T> = {
    kind,
    metricKind: kind === 'Service' ? 'service' : 'ingress',
    read: async (namespace, name) => {
      allowed('read');
      actions.push({ verb: 'read', kind, key: `${namespace}/${name}` });
      if (!control.readResult) throw apiError(404);
      return structuredClone(control.readResult);
    },
    create: async (namespace, body) => {
      allowed('create');
      actions.push({ verb: 'create', kind, key: `${namespace}/${body.metadata?.name}`, body: structuredClone(body) });
      const err = control.createErrors.shift();
      if (err) throw err;
      return { ...body, metadata: { ...body.metadata, uid: `new-${kind}-uid` } };
    },
    patch: async (namespace, name, patch) => {
      allowed('patch');
      actions.push({ verb: 'patch', kind, key: `${namespace}/${name}`, patch: structuredClone(patch) });
      return {} as T;
    },
    delete: async (namespace, name, uid) => {
      allowed('delete');
      actions.push({ verb: 'delete', kind, key: `${namespace}/${name}`, uid });
      const err = control.deleteErrors.shift();
      if (err) throw err;
    },
    drift: (kind === 'Service' ? serviceDrift : ingressDrift) as OwnedObjectApi<T>['drift'],
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

/** An EventSink that records publishes and deletion-record lookups; `deletionRecord` is what a lookup finds. */
export function fakeEventSink(actions: Action[], f: { publishOk?: boolean; deletionRecord?: DeletionRecord } = {}): EventSink {
  return {
    publish: async (kind, payload, opts) => {
      actions.push({ verb: 'publish', kind, payload, ...(opts?.msgId ? { msgId: opts.msgId } : {}) });
      return { ok: f.publishOk ?? true };
    },
    wasDeploymentDeleted: async (namespace, name, uid) => {
      actions.push({ verb: 'wasDeploymentDeleted', namespace, name, uid });
      return f.deletionRecord ?? 'not-deleted';
    },
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
  reason: EventReason;
  message: string;
  on: InvolvedDeployment;
}

/** An EventRecorder that keeps every Kubernetes Event it is asked to record. */
export function fakeRecorder() {
  const recorded: Recorded[] = [];
  const record = (type: Recorded['type']) => async (on: InvolvedDeployment, reason: EventReason, message: string) =>
    void recorded.push({ type, reason, message, on });
  const recorder = { warning: record('Warning'), normal: record('Normal') } as unknown as EventRecorder;
  return { recorder, recorded };
}

/** Metrics that count nothing but keep the recreate/cascade decisions, which some tests assert. */
export function fakeMetrics() {
  const decisions: Decision[] = [];
  const metrics: ControllerMetrics = {
    reconciled: () => undefined,
    setQueueDepth: () => undefined,
    retried: () => undefined,
    setLeader: () => undefined,
    invalidSpec: () => undefined,
    informerRestarted: () => undefined,
    objectWritten: () => undefined,
    conflict: () => undefined,
    decision: (_kind, decision) => void decisions.push(decision),
  };
  return { metrics, decisions };
}
