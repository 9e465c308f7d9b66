// sample-controller style: a fixture, one reconcile, then the exact API actions taken.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { type ExposeSpec, type Settings, loadSettings, parseExposeSpec } from '@ekspose/labels';
import { ManualClock } from './clock';
import type { EventRecorder, EventReason, InvolvedDeployment } from './event-recorder';
import type { DeletionRecord, EventSink, PublishKind } from './event-sink';
import { ingressDrift, serviceDrift } from './drift';
import { Informer, type KubeObjectLike, type WatchEventType } from './informer';
import type { ControllerMetrics, Decision } from './metrics';
import type { OwnedObjectApi } from './owned-object-api';
import { desiredIngress, desiredService } from './owned-objects';
import { RecreationReconciler, type RecreationReconcilerOptions } from './recreation-reconciler';

const NS = 'shop';
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const silent = pino({ level: 'silent' });

function settings(): Settings {
  const loaded = loadSettings({});
  assert.ok(loaded.ok);
  return loaded.settings;
}

function deployment(
  name: string,
  f: { uid?: string; labels?: Record<string, string>; deleting?: boolean; namespace?: string } = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: f.namespace ?? NS,
      uid: f.uid ?? `uid-${name}`,
      resourceVersion: '100',
      labels: f.labels ?? {},
      ...(f.deleting ? { deletionTimestamp: new Date('2025-06-01T11:59:00Z') } : {}),
    },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } } } },
  };
}

function specOf(dep: V1Deployment): ExposeSpec {
  const parsed = parseExposeSpec(dep, settings());
  assert.equal(parsed.kind, 'expose');
  return (parsed as { spec: ExposeSpec }).spec;
}

type Action =
  | { verb: 'readDeployment'; key: string }
  | { verb: 'wasDeploymentDeleted'; namespace: string; name: string; uid: string }
  | { verb: 'create'; kind: string; key: string; body: unknown }
  | { verb: 'publish'; kind: PublishKind; payload: Record<string, unknown> };

const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

async function cachedInformer<T extends KubeObjectLike>(resource: string, items: T[]) {
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
  return {
    informer,
    push: (type: WatchEventType, obj: T) => {
      assert.ok(onEvent);
      onEvent(type, structuredClone(obj));
    },
  };
}

interface Fixture<T> {
  kind: 'Service' | 'Ingress';
  deployments?: V1Deployment[];
  owned?: T[];
  /** What the live GET returns. */
  live?: V1Deployment[];
  record?: DeletionRecord;
  veto?: RecreationReconcilerOptions<T & (V1Service | V1Ingress)>['veto'];
}

async function harness<T extends V1Service | V1Ingress>(f: Fixture<T>) {
  const actions: Action[] = [];
  const recorded: Array<{ type: string; reason: EventReason; message: string; on: InvolvedDeployment }> = [];
  const decisions: Decision[] = [];
  const consulted: DeletionRecord[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const createErrors: unknown[] = [];
  const deployments = await cachedInformer('deployments', f.deployments ?? []);
  const owned = await cachedInformer<T>(f.kind === 'Service' ? 'services' : 'ingresses', f.owned ?? []);
  const api: OwnedObjectApi<T> = {
    kind: f.kind,
    metricKind: f.kind === 'Service' ? 'service' : 'ingress',
    read: async () => {
      throw new Error('the recreation reconciler never reads owned objects');
    },
    create: async (namespace, body) => {
      actions.push({ verb: 'create', kind: f.kind, key: `${namespace}/${body.metadata?.name}`, body: structuredClone(body) });
      const err = createErrors.shift();
      if (err) throw err;
      return { ...body, metadata: { ...body.metadata, uid: `new-${f.kind}-uid` } };
    },
    patch: async () => {
      throw new Error('never patches');
    },
    delete: async () => {
      throw new Error('never deletes');
    },
    drift: (f.kind === 'Service' ? serviceDrift : ingressDrift) as OwnedObjectApi<T>['drift'],
  };
  const events: EventSink = {
    publish: async (kind, payload) => {
      actions.push({ verb: 'publish', kind, payload });
      return { ok: true };
    },
    wasDeploymentDeleted: async (namespace, name, uid) => {
      actions.push({ verb: 'wasDeploymentDeleted', namespace, name, uid });
      return f.record ?? 'not-deleted';
    },
  };
  const record = (type: string) => async (on: InvolvedDeployment, reason: EventReason, message: string) =>
    void recorded.push({ type, reason, message, on });
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
  const vetoed: ExposeSpec[] = [];
  const reconciler = new RecreationReconciler<T>({
    settings: settings(),
    deployments: deployments.informer,
    owned: owned.informer,
    api,
    desired: (f.kind === 'Service' ? desiredService : desiredIngress) as (spec: ExposeSpec) => T | null,
    readDeployment: async (namespace, name) => {
      actions.push({ verb: 'readDeployment', key: `${namespace}/${name}` });
      const found = (f.live ?? []).find((d) => d.metadata?.namespace === namespace && d.metadata?.name === name);
      return found && structuredClone(found);
    },
    events,
    recorder: { warning: record('Warning'), normal: record('Normal') } as unknown as EventRecorder,
    metrics,
    log: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
    clock: new ManualClock({ start: NOW }),
    ...(f.veto
      ? {
          veto: (spec: ExposeSpec) => {
            vetoed.push(spec);
            return f.veto?.(spec);
          },
        }
      : {}),
    onNatsConsulted: (r) => void consulted.push(r),
  });
  return { reconciler, actions, recorded, decisions, consulted, logs, createErrors, owned, vetoed };
}

const verbs = (actions: Action[]) => actions.map((a) => a.verb);

describe('RecreationReconciler (Service)', () => {
  it('Service deleted, Deployment live and wanting it: one create of the desired Service, ServiceRecreated, service.recreated', async () => {
    const dep = deployment('web', { labels: { port: '8080' } });
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'readDeployment', key: 'shop/web' },
      { verb: 'wasDeploymentDeleted', namespace: 'shop', name: 'web', uid: 'uid-web' },
      { verb: 'create', kind: 'Service', key: 'shop/web', body: desiredService(specOf(dep)) },
      {
        verb: 'publish',
        kind: 'service.recreated',
        payload: { deploymentUid: 'uid-web', namespace: 'shop', name: 'web', serviceUid: 'new-Service-uid', at: new Date(NOW).toISOString() },
      },
    ]);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason, r.on]),
      [['Normal', 'ServiceRecreated', { name: 'web', namespace: 'shop', uid: 'uid-web', resourceVersion: '100' }]],
    );
    assert.deepEqual(t.decisions, ['recreate']);
    assert.deepEqual(t.consulted, ['not-deleted']);
  });

  it('the Deployment is gone (404): no create, NATS not even asked', async () => {
    const t = await harness<V1Service>({ kind: 'Service' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment']);
    assert.deepEqual(t.recorded, []);
    assert.deepEqual(t.decisions, ['cascade']);
    assert.ok(t.logs.some((l) => l.msg === 'service not recreated' && /no longer exists/.test(String(l.why))));
  });

  it('the Deployment is terminating: no create', async () => {
    const dep = deployment('web', { deleting: true });
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment']);
    assert.deepEqual(t.decisions, ['cascade']);
  });

  it('a deployment.deleted record exists for the uid: no create', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], record: 'deleted' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted']);
    assert.deepEqual(t.recorded, []);
    assert.deepEqual(t.consulted, ['deleted']);
  });

  it('NATS cannot be asked (unknown): still recreates from the live API alone, and says so in the log', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], record: 'unknown' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'create', 'publish']);
    assert.deepEqual(t.consulted, ['unknown']);
    const warn = t.logs.find((l) => l.msg === 'NATS unavailable: deciding from the live API alone');
    assert.ok(warn);
    assert.equal(warn.level, 40);
    assert.equal(warn.key, 'shop/web');
  });

  it('the object is already back in the cache: nothing at all', async () => {
    const dep = deployment('web');
    const live: V1Service = { ...desiredService(specOf(dep)), metadata: { ...desiredService(specOf(dep)).metadata, uid: 'back' } };
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], owned: [live] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.decisions, []);
  });

  it('create gets 409 (someone was first): done, no event, no publish', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    t.createErrors.push(apiError(409));
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'create']);
    assert.deepEqual(t.recorded, []);
  });

  it('any other create error is thrown, so the queue retries', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    t.createErrors.push(apiError(503));
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 503/);
    assert.deepEqual(t.recorded, []);
  });

  it('a veto: nothing created, and the veto saw the parsed spec', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], veto: () => 'held by an older Ingress' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted']);
    assert.deepEqual(t.vetoed, [specOf(dep)]);
    assert.deepEqual(t.recorded, []);
  });

  it('ignored or invalid Deployments are not recreated for', async () => {
    const cases: Array<Record<string, string>> = [{ 'ekspose.io/ignore': 'true' }, { port: 'abc' }];
    for (const labels of cases) {
      const dep = deployment('web', { labels });
      const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
      await t.reconciler.reconcile('shop/web');
      assert.ok(!verbs(t.actions).includes('create'), JSON.stringify(labels));
    }
  });

  it('a skipped namespace: nothing, not even a read', async () => {
    const t = await harness<V1Service>({ kind: 'Service' });
    await t.reconciler.reconcile('kube-system/web');
    assert.deepEqual(t.actions, []);
  });

  it('missingKeys: live Deployments that want a Service and have none, skipping terminating, ignored, invalid and skipped ones', async () => {
    const has = deployment('has');
    const t = await harness<V1Service>({
      kind: 'Service',
      deployments: [
        has,
        deployment('missing'),
        deployment('deleting', { deleting: true }),
        deployment('ignored', { labels: { 'ekspose.io/ignore': 'true' } }),
        deployment('invalid', { labels: { port: '0' } }),
        deployment('system', { namespace: 'kube-system' }),
      ],
      owned: [desiredService(specOf(has))],
    });
    assert.deepEqual(t.reconciler.missingKeys(), ['shop/missing']);
    assert.deepEqual(t.actions, []);
  });
});

describe('RecreationReconciler (Ingress)', () => {
  it('recreates only for a Deployment that still has ingReq: needed', async () => {
    const without = deployment('web');
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [without], live: [without] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted']);
    assert.ok(t.logs.some((l) => l.msg === 'ingress not recreated' && /no longer asks/.test(String(l.why))));
  });

  it('with ingReq: creates the desired Ingress, IngressRecreated, ingress.recreated with the host', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions.slice(2), [
      { verb: 'create', kind: 'Ingress', key: 'shop/web', body: desiredIngress(specOf(dep)) },
      {
        verb: 'publish',
        kind: 'ingress.recreated',
        payload: {
          deploymentUid: 'uid-web',
          namespace: 'shop',
          name: 'web',
          ingressUid: 'new-Ingress-uid',
          host: 'web.shop.ekspose.local',
          at: new Date(NOW).toISOString(),
        },
      },
    ]);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Normal', 'IngressRecreated']],
    );
  });

  it('missingKeys only names Deployments that want an Ingress', async () => {
    const t = await harness<V1Ingress>({
      kind: 'Ingress',
      deployments: [deployment('plain'), deployment('wants', { labels: { ingReq: 'needed' } }), deployment('other', { labels: { ingReq: 'yes' } })],
    });
    assert.deepEqual(t.reconciler.missingKeys(), ['shop/wants']);
  });
});
