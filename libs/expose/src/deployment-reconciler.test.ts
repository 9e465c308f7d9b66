// sample-controller style: a fixture of cached and live objects, one reconcile,
// then the exact API actions taken (including none at all).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Ingress, V1ObjectMeta, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { Settings } from '@ekspose/labels';
import { ManualClock } from './clock';
import { DeploymentReconciler, UNPUBLISHED_RETRY_MS } from './deployment-reconciler';
import type { MergePatch } from './drift';
import { HostIndex } from './host-conflict';
import { ownerKeyOf, splitKey } from './keys';
import { desiredIngress, desiredService } from './owned-objects';
import {
  type Action,
  NOW,
  NS,
  apiError,
  cachedInformer,
  defaultSettings,
  deployment,
  fakeEventSink,
  fakeMetrics,
  fakeObjectApi,
  fakeRecorder,
  liveDeploymentReader,
  silent,
  specOf,
} from './reconciler-fakes.test-helper';

// ---------------------------------------------------------------- fixtures

const nameOf = (dep: V1Deployment) => dep.metadata?.name ?? '';
const uidOf = (dep: V1Deployment) => dep.metadata?.uid ?? '';

const ownerRef = (name: string, uid: string): V1OwnerReference => ({ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true });

/** What the API server adds to the metadata of an object it stores for `dep`, our ownerReference included. */
function storedMetadata(
  desired: V1ObjectMeta | undefined,
  dep: V1Deployment,
  stored: { uidPrefix: string; resourceVersion: string; created: string; ownerUid?: string },
): V1ObjectMeta {
  const name = nameOf(dep);
  return {
    ...desired,
    uid: `${stored.uidPrefix}-uid-${name}`,
    resourceVersion: stored.resourceVersion,
    creationTimestamp: new Date(stored.created),
    ownerReferences: [ownerRef(name, stored.ownerUid ?? uidOf(dep))],
  };
}

/** The managed Service as the API server has it for `dep`: ours plus server defaults and other tools' additions. */
function managedService(dep: V1Deployment, f: { ownerUid?: string } = {}): V1Service {
  const desired = desiredService(specOf(dep));
  return {
    ...desired,
    metadata: {
      ...storedMetadata(desired.metadata, dep, { uidPrefix: 'svc', resourceVersion: '200', created: '2025-01-01T00:00:01Z', ownerUid: f.ownerUid }),
      labels: { ...desired.metadata?.labels, 'team': 'checkout' },
      annotations: { 'example.com/note': 'added by another tool' },
    },
    spec: {
      ...desired.spec,
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

function managedIngress(dep: V1Deployment, f: { ownerUid?: string; created?: string } = {}): V1Ingress {
  const desired = desiredIngress(specOf(dep));
  assert.ok(desired, 'the fixture Deployment must want an Ingress');
  return {
    ...desired,
    metadata: storedMetadata(desired.metadata, dep, {
      uidPrefix: 'ing',
      resourceVersion: '300',
      created: f.created ?? '2025-01-01T00:00:02Z',
      ownerUid: f.ownerUid,
    }),
    spec: { ingressClassName: 'nginx', ...desired.spec },
    status: { loadBalancer: {} },
  };
}

// ---------------------------------------------------------------- harness

const brief = (actions: Action[]) =>
  actions.map((a) => {
    if (a.verb === 'publish') return `publish ${a.kind} ${String(a.payload.uid)}`;
    if (a.verb === 'wasDeploymentDeleted') return `wasDeploymentDeleted ${a.namespace}/${a.name}`;
    return `${a.verb} ${'kind' in a ? `${a.kind} ` : ''}${a.key}`;
  });

interface HarnessFixture {
  deployments?: V1Deployment[];
  services?: V1Service[];
  ingresses?: V1Ingress[];
  /** What a live GET of a Deployment not in the cache returns. */
  live?: V1Deployment[];
  publishOk?: boolean;
  settings?: Settings;
}

async function harness(f: HarnessFixture = {}) {
  /** Mutable: a test can bring NATS back by setting nats.publishOk = true. */
  const nats = { publishOk: f.publishOk };
  const actions: Action[] = [];
  const deployments = await cachedInformer('deployments', f.deployments ?? []);
  const services = await cachedInformer('services', f.services ?? []);
  const ingresses = await cachedInformer('ingresses', f.ingresses ?? []);
  const hostIndex = new HostIndex();
  for (const ing of ingresses.informer.list()) hostIndex.upsert(ing);
  const svc = fakeObjectApi<V1Service>('Service', actions);
  const ing = fakeObjectApi<V1Ingress>('Ingress', actions);
  const { recorder, recorded } = fakeRecorder();
  const clock = new ManualClock({ start: NOW });
  const reconciler = new DeploymentReconciler({
    settings: f.settings ?? defaultSettings(),
    deployments: deployments.informer,
    services: services.informer,
    ingresses: ingresses.informer,
    hostIndex,
    readDeployment: liveDeploymentReader(actions, f.live),
    serviceApi: svc.api,
    ingressApi: ing.api,
    events: fakeEventSink(actions, nats),
    recorder,
    metrics: fakeMetrics().metrics,
    log: silent,
    clock,
  });
  return { reconciler, actions, recorded, svc: svc.control, ing: ing.control, deployments, services, ingresses, clock, nats };
}

const writes = (actions: Action[]) => actions.filter((a) => a.verb !== 'readDeployment');

/** The deployment.exposed publish for the Deployment shop/web (uid-web), sent at NOW. */
const exposedWeb = (service: { name: string; port: number }, ingress: { name: string; host: string; path: string } | null): Action => ({
  verb: 'publish',
  kind: 'deployment.exposed',
  payload: { uid: 'uid-web', namespace: 'shop', name: 'web', service, ingress, at: new Date(NOW).toISOString() },
});

/** shop/api (`other`) and shop/web (`dep`), both wanting an Ingress on shop.example.com; `other` optionally on another path. */
function sharingHost(f: { otherPath?: string } = {}) {
  const host = { 'ekspose.io/host': 'shop.example.com' };
  const otherAnnotations = f.otherPath ? { ...host, 'ekspose.io/path': f.otherPath } : host;
  return {
    other: deployment('api', { labels: { ingReq: 'needed' }, annotations: otherAnnotations }),
    dep: deployment('web', { labels: { ingReq: 'needed' }, annotations: host }),
  };
}

// ---------------------------------------------------------------- tests

describe('splitKey / ownerKeyOf', () => {
  it('split a key at the first slash and find the owner from the deployment label', () => {
    assert.deepEqual(splitKey('shop/web'), ['shop', 'web']);
    assert.equal(ownerKeyOf({ metadata: { namespace: 'shop', name: 'x', labels: { 'ekspose.io/deployment': 'web' } } }), 'shop/web');
    assert.equal(ownerKeyOf({ metadata: { namespace: 'shop', name: 'web' } }), 'shop/web');
  });
});

describe('DeploymentReconciler', () => {
  it('a new Deployment without ingReq: creates the Service only and publishes deployment.exposed', async () => {
    const dep = deployment('web');
    const t = await harness({ deployments: [dep] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'create', kind: 'Service', key: 'shop/web', body: desiredService(specOf(dep)) },
      exposedWeb({ name: 'web', port: 80 }, null),
    ]);
    assert.deepEqual(t.recorded, []);
  });

  it('a new Deployment with ingReq: creates the Service and the Ingress, one deployment.exposed naming both', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '8080' } });
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('shop/web');
    const spec = specOf(dep);
    assert.deepEqual(t.actions, [
      { verb: 'create', kind: 'Service', key: 'shop/web', body: desiredService(spec) },
      { verb: 'create', kind: 'Ingress', key: 'shop/web', body: desiredIngress(spec) },
      exposedWeb({ name: 'web', port: 8080 }, { name: 'web', host: 'web.shop.ekspose.local', path: '/' }),
    ]);
  });

  it('already-correct objects in the caches: no API call at all (TestDoNothing)', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '8080' }, annotations: { 'ekspose.io/path': '/api' } });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.recorded, []);
  });

  it('a drifted port: exactly one patch of the Service ports, with the resourceVersion', async () => {
    const before = deployment('web');
    const dep = deployment('web', { labels: { port: '8080' } });
    const t = await harness({ deployments: [dep], services: [managedService(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [
      {
        verb: 'patch',
        kind: 'Service',
        key: 'shop/web',
        patch: {
          metadata: { resourceVersion: '200' },
          spec: { ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 }] },
        },
      },
    ]);
    assert.deepEqual(t.recorded, []);
  });

  it('a drifted port with an Ingress: the Service and the Ingress backend follow, one patch each', async () => {
    const before = deployment('web', { labels: { ingReq: 'needed' } });
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '9090' } });
    const t = await harness({ deployments: [dep], services: [managedService(before)], ingresses: [managedIngress(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['patch Service shop/web', 'patch Ingress shop/web']);
    const ingPatch = (t.actions[1] as { patch: MergePatch }).patch;
    assert.deepEqual(ingPatch, { metadata: { resourceVersion: '300' }, spec: { rules: desiredIngress(specOf(dep))?.spec?.rules } });
  });

  it('ingReq removed with a managed Ingress present: deletes it with its uid as precondition, Service untouched', async () => {
    const before = deployment('web', { labels: { ingReq: 'needed' } });
    const dep = deployment('web');
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [{ verb: 'delete', kind: 'Ingress', key: 'shop/web', uid: 'ing-uid-web' }]);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Normal', 'IngressDeleted']],
    );
  });

  it('an invalid port: no write, one Warning InvalidSpec naming key and value; the same Deployment again warns no more', async () => {
    const good = deployment('web');
    const dep = deployment('web', { labels: { port: 'abc' }, rv: '101' });
    const t = await harness({ deployments: [dep], services: [managedService(good)] });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.equal(t.recorded.length, 1);
    const [warning] = t.recorded;
    assert.ok(warning);
    assert.equal(warning.type, 'Warning');
    assert.equal(warning.reason, 'InvalidSpec');
    assert.match(warning.message, /port/);
    assert.match(warning.message, /abc/);
    assert.deepEqual(warning.on, { name: 'web', namespace: 'shop', uid: 'uid-web', resourceVersion: '101' });

    // A status-only update (new resourceVersion, same spec, labels and annotations) is no news.
    t.deployments.push('MODIFIED', deployment('web', { labels: { port: 'abc' }, rv: '102' }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.recorded.length, 1);
    // A change by the user to the Deployment that is still invalid is worth a new Warning.
    t.deployments.push('MODIFIED', deployment('web', { labels: { port: 'abc', team: 'a' }, rv: '103' }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.recorded.length, 2);
    assert.deepEqual(t.actions, []);
  });

  it('create gets 409 and the object there is not ours: no patch, no delete, one Warning ServiceConflict', async () => {
    const dep = deployment('web');
    const t = await harness({ deployments: [dep] });
    t.svc.createErrors.push(apiError(409), apiError(409));
    t.svc.readResult = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS, uid: 'someone-elses', resourceVersion: '5', labels: { app: 'web' } },
      spec: { type: 'NodePort', selector: { app: 'other' }, ports: [{ port: 1234 }] },
    };
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'read Service shop/web']);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Warning', 'ServiceConflict']],
    );
    assert.match(t.recorded[0]?.message ?? '', /not managed by ekspose/);
    // A resync does not repeat the Warning.
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'read Service shop/web', 'create Service shop/web', 'read Service shop/web']);
    assert.equal(t.recorded.length, 1);
  });

  it('create gets 409 and the object is ours already (cache lag): no second write when it is right', async () => {
    const dep = deployment('web');
    const t = await harness({ deployments: [dep] });
    t.svc.createErrors.push(apiError(409));
    t.svc.readResult = managedService(dep);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'read Service shop/web']);
    assert.deepEqual(t.recorded, []);
  });

  it('a stale owner (managed, owned by another uid): deployment.deleted for the old uid, then a patch setting our ownerReference', async () => {
    const old = deployment('web', { uid: 'old-uid' });
    const dep = deployment('web', { uid: 'new-uid' });
    const t = await harness({ deployments: [dep], services: [managedService(old)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [
      {
        verb: 'publish',
        kind: 'deployment.deleted',
        payload: { uid: 'old-uid', namespace: 'shop', name: 'web', deletedAt: new Date(NOW).toISOString() },
        msgId: 'old-uid',
      },
      {
        verb: 'patch',
        kind: 'Service',
        key: 'shop/web',
        patch: { metadata: { ownerReferences: [ownerRef('web', 'new-uid')], resourceVersion: '200' } },
      },
    ]);
  });

  it('the Deployment is gone: deployment.deleted for the owner uid (msgId = uid) before deleting both objects by uid', async () => {
    const gone = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' } });
    const t = await harness({ services: [managedService(gone)], ingresses: [managedIngress(gone)] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'readDeployment', key: 'shop/web' },
      {
        verb: 'publish',
        kind: 'deployment.deleted',
        payload: { uid: 'uid-x', namespace: 'shop', name: 'web', deletedAt: new Date(NOW).toISOString() },
        msgId: 'uid-x',
      },
      { verb: 'delete', kind: 'Service', key: 'shop/web', uid: 'svc-uid-web' },
      { verb: 'delete', kind: 'Ingress', key: 'shop/web', uid: 'ing-uid-web' },
    ]);
  });

  it('a terminating Deployment (deletionTimestamp) is cleaned up the same way', async () => {
    const dep = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' }, deleting: true });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['publish deployment.deleted uid-x', 'delete Service shop/web', 'delete Ingress shop/web']);
    assert.equal((t.actions[0] as { msgId?: string }).msgId, 'uid-x');
    assert.deepEqual(
      t.actions.filter((a) => a.verb === 'delete').map((a) => (a as { uid: string }).uid),
      ['svc-uid-web', 'ing-uid-web'],
    );
  });

  it('the Deployment is gone: an object with our label but controlled by something else is not ours to delete', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const svc = managedService(gone);
    svc.metadata = {
      ...svc.metadata,
      ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'WebApp', name: 'web', uid: 'cr-uid', controller: true }],
    };
    const t = await harness({ services: [svc] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writes(t.actions), []);
  });

  it('a terminating Deployment does not delete objects another uid controls', async () => {
    const dep = deployment('web', { uid: 'uid-x', deleting: true });
    const t = await harness({ deployments: [dep], services: [managedService(deployment('web', { uid: 'uid-y' }))] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['publish deployment.deleted uid-x']);
  });

  it('the cleanup goes on when deployment.deleted cannot be published (NATS down)', async () => {
    const gone = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' } });
    const t = await harness({ services: [managedService(gone)], ingresses: [managedIngress(gone)], publishOk: false });
    const result = await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writes(t.actions).map((a) => a.verb), ['publish', 'delete', 'delete']);
    // The record is still owed: the key comes back later (not at once), and publishes it when NATS takes it.
    assert.deepEqual(result, { kind: 'requeueAfter', delayMs: UNPUBLISHED_RETRY_MS });
    t.actions.length = 0;
    t.nats.publishOk = true;
    t.services.push('DELETED', managedService(gone));
    t.ingresses.push('DELETED', managedIngress(gone));
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-x']);
    t.actions.length = 0;
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writes(t.actions), [], 'published once, then nothing is owed');
  });

  it('a record owed for a replaced Deployment is published when the new one is reconciled', async () => {
    const gone = deployment('web', { uid: 'uid-old' });
    const t = await harness({ services: [managedService(gone)], publishOk: false });
    await t.reconciler.reconcile('shop/web');
    t.actions.length = 0;
    t.nats.publishOk = true;
    t.services.push('DELETED', managedService(gone));
    t.deployments.push('ADDED', deployment('web', { uid: 'uid-new' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)).filter((a) => a.startsWith('publish deployment.deleted')), ['publish deployment.deleted uid-old']);
  });

  it('a Deployment deleted after its objects were already collected: still publishes deployment.deleted for its uid', async () => {
    const t = await harness({});
    t.reconciler.noteDeleted(deployment('web', { uid: 'uid-z' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-z']);
    // The tombstone is used once.
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-z']);
  });

  it('an object already gone when deleted (404) is done, not an error', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    t.svc.deleteErrors.push(apiError(404));
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
  });

  it('a failed delete is an error, so the queue retries', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    t.svc.deleteErrors.push(apiError(500));
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 500/);
  });

  it('a failed create is an error, so the queue retries', async () => {
    const t = await harness({ deployments: [deployment('web')] });
    t.svc.createErrors.push(apiError(500));
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 500/);
  });

  it('ekspose.io/ignore: "true": nothing at all, even with managed objects that look wrong', async () => {
    const dep = deployment('web', { labels: { 'ekspose.io/ignore': 'true', port: '9999' } });
    const t = await harness({ deployments: [dep], services: [managedService(deployment('web'))] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.recorded, []);
  });

  it('a Deployment in a skipped namespace: nothing, not even a read', async () => {
    const dep = deployment('web', { namespace: 'kube-system' });
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('kube-system/web');
    await t.reconciler.reconcile('kube-system/gone');
    assert.deepEqual(t.actions, []);
  });

  it('a Deployment not in the cache yet is read live and exposed', async () => {
    const dep = deployment('web');
    const t = await harness({ live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['readDeployment shop/web', 'create Service shop/web', 'publish deployment.exposed uid-web']);
  });

  it('host conflict with an older managed Ingress of another Deployment: no Ingress, one Warning HostConflict', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({
      deployments: [dep, other],
      services: [managedService(dep)],
      ingresses: [managedIngress(other, { created: '2024-01-01T00:00:00Z' })],
    });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Warning', 'HostConflict']],
    );
    assert.match(t.recorded[0]?.message ?? '', /shop\.example\.com\/ .*shop\/api/);
  });

  it('a Deployment refused a host is handed back when the holding Ingress is deleted, once', async () => {
    const { other, dep } = sharingHost();
    const holding = managedIngress(other, { created: '2024-01-01T00:00:00Z' });
    const t = await harness({ deployments: [dep, other], services: [managedService(dep)], ingresses: [holding] });
    assert.deepEqual(t.reconciler.keysWaitingFor(holding), [], 'nobody waits before a conflict');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.reconciler.keysWaitingFor(holding), ['shop/web']);
    assert.deepEqual(t.reconciler.keysWaitingFor(holding), [], 'handed back once');
  });

  it('host conflict while creating the Service: deployment.exposed announces no Ingress', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({ deployments: [dep, other], ingresses: [managedIngress(other)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'publish deployment.exposed uid-web']);
    assert.equal((t.actions[1] as { payload: Record<string, unknown> }).payload.ingress, null);
  });

  it('the same host with another path is no conflict', async () => {
    const { other, dep } = sharingHost({ otherPath: '/api' });
    const t = await harness({ deployments: [dep, other], services: [managedService(dep)], ingresses: [managedIngress(other)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Ingress shop/web', 'publish deployment.exposed uid-web']);
    assert.deepEqual(t.recorded, []);
  });

  it('orphanKeys: the owners of managed objects whose Deployment is not in the cache, once each', async () => {
    const live = deployment('web', { labels: { ingReq: 'needed' } });
    const gone = deployment('gone', { labels: { ingReq: 'needed' } });
    const gone2 = deployment('gone2', { labels: { ingReq: 'needed' } });
    const t = await harness({
      deployments: [live],
      services: [managedService(live), managedService(gone)],
      ingresses: [managedIngress(live), managedIngress(gone), managedIngress(gone2)],
    });
    assert.deepEqual(t.reconciler.orphanKeys().sort(), ['shop/gone', 'shop/gone2']);
    assert.deepEqual(t.actions, []);
  });
});
