// sample-controller style: a fixture, one reconcile, then the exact API actions taken.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { ExposeSpec } from '@ekspose/labels';
import { ManualClock } from './clock';
import type { DeletionRecord } from './event-sink';
import { desiredIngress, desiredService } from './owned-objects';
import {
  type Action,
  NOW,
  apiError,
  cachedInformer,
  defaultSettings,
  deployment,
  fakeEventSink,
  fakeMetrics,
  fakeObjectApi,
  fakeRecorder,
  liveDeploymentReader,
  specOf,
} from './reconciler-fakes.test-helper';
import { RecreationReconciler, type RecreationReconcilerOptions } from './recreation-reconciler';

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
  const consulted: DeletionRecord[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const deployments = await cachedInformer('deployments', f.deployments ?? []);
  const owned = await cachedInformer<T>(f.kind === 'Service' ? 'services' : 'ingresses', f.owned ?? []);
  // It only ever creates: a read, patch or delete of an owned object throws.
  const api = fakeObjectApi<T>(f.kind, actions, ['create']);
  const { recorder, recorded } = fakeRecorder();
  const { metrics, decisions } = fakeMetrics();
  const vetoed: ExposeSpec[] = [];
  const reconciler = new RecreationReconciler<T>({
    settings: defaultSettings(),
    deployments: deployments.informer,
    owned: owned.informer,
    api: api.api,
    desired: (f.kind === 'Service' ? desiredService : desiredIngress) as (spec: ExposeSpec) => T | null,
    readDeployment: liveDeploymentReader(actions, f.live),
    events: fakeEventSink(actions, { deletionRecord: f.record }),
    recorder,
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
  return { reconciler, actions, recorded, decisions, consulted, logs, createErrors: api.control.createErrors, owned, vetoed };
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
