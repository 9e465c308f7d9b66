// sample-controller style: a fixture, one reconcile, then the exact API actions taken.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { ExposeSpec } from '@ekspose/labels';
import { ManualClock } from '@ekspose/k8s/manual-clock';
import type { DeletionAnswer } from '@ekspose/events';
import { type OwnedKind, httpRouteKind, ingressKind, serviceKind } from './kind-descriptors';
import type { HttpRoute } from './http-route';
import type { ReadGateway } from './gateway-reader';
import {
  type Action,
  FakeEvents,
  NOW,
  apiError,
  cachedInformer,
  defaultSettings,
  deployment,
  expectedIngress,
  expectedService,
  fakeMetrics,
  fakeObjectApi,
  liveDeploymentReader,
  fakeRecorder,
  specOf,
  storeWithCache,
} from './reconciler-fakes.test-helper';
import { RecreationReconciler, type RecreationReconcilerOptions } from './recreation-reconciler';

interface Fixture<T> {
  kind: 'Service' | 'Ingress' | 'HTTPRoute';
  deployments?: V1Deployment[];
  owned?: T[];
  /** What the live GET returns. */
  live?: V1Deployment[];
  /** What the live GET returns from the second read on (the Deployment's deletion started meanwhile). */
  liveLater?: V1Deployment[];
  /** deleted: a deployment.deleted record for every live uid; unknown: NATS down. */
  record?: DeletionAnswer;
  /** The watch saw shop/web's object deleted (the usual way a reconcile starts); false: a start-up sweep. */
  watched?: boolean;
  veto?: RecreationReconcilerOptions<T & (V1Service | V1Ingress)>['veto'];
  readGateway?: ReadGateway;
}

const KINDS = { Service: serviceKind, Ingress: ingressKind, HTTPRoute: httpRouteKind };

async function harness<T extends V1Service | V1Ingress | HttpRoute>(f: Fixture<T>) {
  const actions: Action[] = [];
  const consulted: DeletionAnswer[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const deployments = await cachedInformer('deployments', f.deployments ?? []);
  const { store, cache, names } = await storeWithCache<T>(f.kind, f.owned ?? []);
  // It only ever creates: a read, patch or delete of an owned object throws.
  const api = fakeObjectApi<T>(store, actions, ['create']);
  const { recorder, recorded } = fakeRecorder();
  const { metrics, exposeMetrics, decisions, contradictions } = fakeMetrics();
  const nats = new FakeEvents(actions);
  if (f.record === 'unknown') nats.up = false;
  if (f.record === 'deleted') for (const d of f.live ?? []) nats.deleted.add(d.metadata!.uid!);
  const vetoed: ExposeSpec[] = [];
  const reconciler = new RecreationReconciler<T>({
    settings: defaultSettings(),
    deployments: deployments.informer,
    owned: { kind: KINDS[f.kind] as unknown as OwnedKind<T>, api: api.api, cache: cache.informer, names: names.informer },
    readDeployment: (() => {
      const first = liveDeploymentReader(actions, f.live);
      const later = liveDeploymentReader(actions, f.liveLater ?? f.live);
      let reads = 0;
      return (ns: string, name: string) => (reads++ === 0 ? first(ns, name) : later(ns, name));
    })(),
    events: nats,
    recorder,
    metrics,
    exposeMetrics,
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
    ...(f.readGateway ? { readGateway: f.readGateway } : {}),
    onNatsConsulted: (r) => void consulted.push(r),
  });
  if (f.watched ?? true) reconciler.noteDeleted('shop/web');
  return { reconciler, actions, recorded, decisions, contradictions, consulted, logs, createErrors: api.control.createErrors, store, cache, nats, vetoed };
}

/** A second reconcile of the key finds the object back in the cache and does nothing at all. */
async function assertSettled(t: { reconciler: { reconcile(key: string): Promise<unknown> }; actions: Action[]; recorded: unknown[] }): Promise<void> {
  const [actions, events] = [t.actions.length, t.recorded.length];
  assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
  assert.deepEqual(t.actions.slice(actions), [], 'a second reconcile makes no call');
  assert.equal(t.recorded.length, events, 'and records no Event');
}

const verbs = (actions: Action[]) => actions.map((a) => a.verb);

describe('RecreationReconciler (Service)', () => {
  it('a shard range let go takes the deletions witnessed in its namespaces with it, and only those', async () => {
    const t = await harness<V1Service>({ kind: 'Service', deployments: [], live: [] });
    t.reconciler.noteDeleted('other-ns/api');
    assert.equal(t.reconciler.witnessedCount, 2);
    t.reconciler.reset((key) => key.startsWith('shop/'));
    assert.equal(t.reconciler.witnessedCount, 1);
    t.reconciler.reset();
    assert.equal(t.reconciler.witnessedCount, 0);
  });

  it('Service deleted, Deployment live and wanting it: one create of the desired Service, ServiceRecreated, service.recreated', async () => {
    const dep = deployment('web', { labels: { port: '8080' } });
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'readDeployment', key: 'shop/web' },
      { verb: 'wasDeploymentDeleted', namespace: 'shop', name: 'web', uid: 'uid-web' },
      { verb: 'create', kind: 'Service', key: 'shop/web', body: expectedService('web', { port: 8080 }) },
      {
        verb: 'publish',
        kind: 'service.recreated',
        payload: { deploymentUid: 'uid-web', namespace: 'shop', name: 'web', serviceUid: 'new-Service-uid', at: new Date(NOW).toISOString() },
      },
    ]);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason, r.on]),
      [['Normal', 'ServiceRecreated', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'uid-web', resourceVersion: '100' }]],
    );
    assert.deepEqual(t.decisions, ['recreate']);
    assert.deepEqual(t.consulted, ['not-deleted']);
    await assertSettled(t);
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

  it('a deployment.deleted record, and the Deployment terminating on a second read (the race the record is for): no create', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], liveLater: [deployment('web', { deleting: true })], record: 'deleted' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'readDeployment']);
    assert.deepEqual(t.recorded, []);
    assert.deepEqual(t.consulted, ['deleted']);
    assert.deepEqual(t.contradictions, []);
  });

  it('a deployment.deleted record for a Deployment the live API shows alive (forged, or wrong): the live API wins, recreated', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], record: 'deleted' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'readDeployment', 'create', 'publish']);
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceRecreated']);
    assert.deepEqual(t.contradictions, ['contradicted']);
    assert.ok(t.logs.some((l) => l.level === 40 && /record names a Deployment that is alive/.test(String(l.msg))));
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
    const live: V1Service = { ...expectedService('web'), metadata: { ...expectedService('web').metadata, uid: 'back' } };
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], owned: [live] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.decisions, []);
  });

  it('a foreign Service holds the name: not missing, and no request at all (no live read, no NATS, no create)', async () => {
    const dep = deployment('web');
    const foreign: V1Service = { metadata: { name: 'web', namespace: 'shop', uid: 'helm-made', resourceVersion: '3', labels: { 'app.kubernetes.io/managed-by': 'Helm' } }, spec: {} };
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], owned: [foreign] });
    assert.deepEqual(t.reconciler.missingKeys(), []);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
  });

  it('a managed Service still in the names cache while its deletion is handled: the deletion is acted on (the managed cache decides)', async () => {
    const dep = deployment('web');
    const gone: V1Service = { ...expectedService('web'), metadata: { ...expectedService('web').metadata, uid: 'old' } };
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], owned: [gone] });
    // The managed watch saw the deletion; the names watch (another stream) has not yet.
    t.store.remove('shop', 'web');
    t.cache.push('DELETED', gone);
    t.reconciler.noteDeleted('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.ok(t.actions.some((a) => a.verb === 'create'), 'recreated');
  });

  it('create gets 409 (someone was first): done, no event, no publish', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    t.store.seed(expectedService('web')); // the deployment-controller made it; its watch event has not arrived
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
      owned: [expectedService('has')],
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
      { verb: 'create', kind: 'Ingress', key: 'shop/web', body: expectedIngress('web') },
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
    await assertSettled(t);
  });

  it('missingKeys only names Deployments that want an Ingress', async () => {
    const t = await harness<V1Ingress>({
      kind: 'Ingress',
      deployments: [deployment('plain'), deployment('wants', { labels: { ingReq: 'needed' } }), deployment('other', { labels: { ingReq: 'yes' } })],
    });
    assert.deepEqual(t.reconciler.missingKeys(), ['shop/wants']);
  });
});

describe('RecreationReconciler: a recreation is told only with evidence (no deletions that never happened)', () => {
  const exposedRecord = (nats: FakeEvents, uid: string, f: { ingress?: boolean } = {}) =>
    nats.exposed.push({ uid, service: true, ingress: f.ingress ?? false, httproute: false });

  it('missing at a sweep, never made before (no deployment.exposed record): created, Normal ServiceCreated, no recreation', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], watched: false });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'wasExposed', 'create']);
    assert.deepEqual(t.actions[2], { verb: 'wasExposed', namespace: 'shop', name: 'web', uid: 'uid-web', object: 'service' });
    assert.deepEqual(t.recorded.map((r) => [r.type, r.reason, r.message]), [['Normal', 'ServiceCreated', 'Service web was missing; created']]);
    assert.deepEqual(t.decisions, ['create'], 'the recreation metric stays at 0');
    assert.ok(t.logs.some((l) => l.msg === 'service created (it was missing)' && l.evidence === 'none'));
    assert.ok(!t.logs.some((l) => l.msg === 'service recreated'));
    await assertSettled(t);
  });

  it('missing at a sweep, with a deployment.exposed record for this uid: it existed, so ServiceRecreated and service.recreated', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], watched: false });
    exposedRecord(t.nats, 'uid-web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'wasExposed', 'create', 'publish']);
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceRecreated']);
    assert.deepEqual(t.decisions, ['recreate']);
  });

  it('a record for an earlier Deployment of the same name is no evidence for this one', async () => {
    const dep = deployment('web', { uid: 'uid-now' });
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], watched: false });
    exposedRecord(t.nats, 'uid-before');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceCreated']);
  });

  it('an Ingress named in no record (deployment.exposed had ingress: null) is created, not recreated', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep], watched: false });
    exposedRecord(t.nats, 'uid-web', { ingress: false });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['IngressCreated', 'Exposed']);
    exposedRecord(t.nats, 'uid-web', { ingress: true });
    t.store.deleteByUser('shop', 'web');
    t.actions.length = 0;
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['IngressCreated', 'Exposed', 'IngressRecreated'], 'a recreation tells no second Exposed');
    assert.deepEqual(verbs(t.actions).slice(-1), ['publish']);
  });

  it('an Ingress made here because it was missing (this controller before the deployment-controller): its URL is told, as Exposed', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep], watched: false });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason, r.message]),
      [
        ['Normal', 'IngressCreated', 'Ingress web was missing; created'],
        ['Normal', 'Exposed', 'reachable at http://web.shop.ekspose.local/ through Ingress web'],
      ],
    );
    await assertSettled(t);
    const tls = deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/tls-secret': 'web-tls' } });
    const secured = await harness<V1Ingress>({ kind: 'Ingress', deployments: [tls], live: [tls], watched: false });
    await secured.reconciler.reconcile('shop/web');
    assert.deepEqual(secured.recorded.map((r) => r.message).slice(1), ['reachable at https://web.shop.ekspose.local/ through Ingress web']);
  });

  it('an HTTPRoute made because it was missing: Exposed with the scheme and port of the Gateway listener, read for it', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'infra/public/https' } });
    const gateways: Array<[string, string]> = [];
    const readGateway: ReadGateway = async (namespace, name) => {
      gateways.push([namespace, name]);
      return { spec: { listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'https', port: 8443, protocol: 'HTTPS' }] } };
    };
    const t = await harness<HttpRoute>({ kind: 'HTTPRoute', deployments: [dep], live: [dep], watched: false, readGateway });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(gateways, [['infra', 'public']]);
    assert.deepEqual(
      t.recorded.map((r) => [r.reason, r.message]),
      [
        ['HTTPRouteCreated', 'HTTPRoute web was missing; created'],
        ['Exposed', 'reachable at https://web.shop.ekspose.local:8443/ through HTTPRoute web'],
      ],
    );
  });

  it('a missing Ingress the deployment-controller made meanwhile (409), or one a veto keeps out: no Exposed', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep], watched: false });
    t.store.seed(expectedIngress('web'));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded, []);
    const vetoed = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep], watched: false, veto: () => 'an older Ingress holds the host' });
    await vetoed.reconciler.reconcile('shop/web');
    assert.deepEqual(vetoed.recorded, []);
  });

  it('an HTTPRoute made because it was missing, its Gateway not readable: Exposed says http, no port (what the route alone says)', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'infra/public/https' } });
    const t = await harness<HttpRoute>({ kind: 'HTTPRoute', deployments: [dep], live: [dep], watched: false, readGateway: async () => undefined });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.message).slice(1), ['reachable at http://web.shop.ekspose.local/ through HTTPRoute web']);
  });

  it('a route recreated after a deletion the watch saw, or a Service made because it was missing: no Exposed (told when first made; a Service has no URL)', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness<V1Ingress>({ kind: 'Ingress', deployments: [dep], live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['IngressRecreated']);
    const s = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], watched: false });
    await s.reconciler.reconcile('shop/web');
    assert.deepEqual(s.recorded.map((r) => r.reason), ['ServiceCreated']);
  });

  it('NATS down at a sweep: the record cannot be consulted, the log says so, and the neutral wording is used', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], watched: false, record: 'unknown' });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceCreated']);
    assert.deepEqual(t.decisions, ['create']);
    assert.ok(t.logs.some((l) => l.level === 40 && /cannot tell whether the Service existed/.test(String(l.msg))));
  });

  it('a deletion seen by the watch needs no record, and is used once: a later sweep of the key asks the stream again', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceRecreated']);
    assert.ok(!verbs(t.actions).includes('wasExposed'));
    t.store.deleteByUser('shop', 'web'); // gone again, but this reconcile is a sweep: nobody tells the reconciler
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceRecreated', 'ServiceCreated']);
  });

  it('a failed create keeps the watch evidence for the retry', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    t.createErrors.push(apiError(503));
    await assert.rejects(t.reconciler.reconcile('shop/web'));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceRecreated']);
  });

  it('the watch event before the deployment.deleted record: the live GET already says terminating, so nothing is made', async () => {
    const dep = deployment('web', { deleting: true });
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment']);
    assert.deepEqual(t.decisions, ['cascade']);
  });

  it('the deployment.deleted record before the watch event: the record decides, nothing is made', async () => {
    const dep = deployment('web');
    const t = await harness<V1Service>({ kind: 'Service', deployments: [dep], live: [dep], liveLater: [], watched: false });
    t.nats.deleted.add('uid-web');
    t.reconciler.noteDeleted('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(verbs(t.actions), ['readDeployment', 'wasDeploymentDeleted', 'readDeployment']);
    assert.deepEqual(t.decisions, ['cascade']);
    assert.deepEqual(t.store.list(), []);
  });
});
