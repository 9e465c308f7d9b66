import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { heldHostVeto, indexHosts, routeDeploymentEvents, routeRecreationEvents } from './event-routing';
import { serviceKind } from './kind-descriptors';
import { cachedInformer, deployment, expectedIngress, expectedService, specOf, storeWithCache } from './reconciler-fakes.test-helper';

const created = (at: string) => ({ creationTimestamp: new Date(at) });

describe('routeDeploymentEvents (deployment-controller)', () => {
  async function routed(f: { services?: V1Service[]; deployments?: V1Deployment[] } = {}) {
    const enqueued: string[] = [];
    const tombstones: string[] = [];
    const deployments = await cachedInformer('deployments', f.deployments ?? []);
    const services = await storeWithCache<V1Service>('Service', f.services ?? []);
    const state = { active: true, waiting: new Set<string>() };
    routeDeploymentEvents({
      deployments: deployments.informer,
      owned: [{ kind: serviceKind as never, cache: services.cache.informer as never, names: services.names.informer }],
      noteDeleted: (d) => void tombstones.push(d.metadata!.uid!),
      waitsForName: (key, kind) => state.waiting.has(`${kind} ${key}`),
      watched: (key) => !key.startsWith('kube-system/'),
      active: () => state.active,
      enqueue: (key) => void enqueued.push(key),
    });
    return { enqueued, tombstones, deployments, services, state };
  }

  it('a foreign Service under the name a Deployment waits for: its deletion or change enqueues that Deployment; others enqueue nothing', async () => {
    const foreign = (name: string, uid: string): V1Service => ({ metadata: { name, namespace: 'shop', uid, resourceVersion: '5', labels: { app: name } }, spec: {} });
    const t = await routed({ services: [foreign('web', 'f1'), foreign('api', 'f2'), foreign('db', 'f3')] });
    t.state.waiting.add('Service shop/web');
    t.state.waiting.add('Ingress shop/api');
    t.services.store.patch('shop', 'web', { metadata: { labels: { 'app.kubernetes.io/managed-by': 'ekspose' } } });
    assert.deepEqual(t.enqueued, ['shop/web'], 'it changed hands (relabelled): looked at again');
    t.services.store.deleteByUser('shop', 'api');
    t.services.store.deleteByUser('shop', 'db');
    assert.deepEqual(t.enqueued, ['shop/web'], 'nobody waits for the Service name api (only for its Ingress), nor for db');
  });

  it('a holder with the managed-by label but controlled by something else (in the managed cache, not the names one): its deletion frees the name too', async () => {
    const cronJobs: V1Service = {
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'c1',
        resourceVersion: '5',
        labels: { 'app.kubernetes.io/managed-by': 'ekspose' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj', controller: true }],
      },
      spec: {},
    };
    const t = await routed({ services: [cronJobs] });
    assert.equal(t.services.names.informer.get('shop', 'web'), undefined, 'the names cache holds only what ekspose does not manage');
    t.state.waiting.add('Service shop/web');
    t.services.store.deleteByUser('shop', 'web');
    assert.deepEqual(t.enqueued, ['shop/web']);
  });

  it('a standby (not active) notes and enqueues nothing: no tombstone, no key', async () => {
    const t = await routed();
    t.state.active = false;
    t.deployments.push('ADDED', deployment('web'));
    t.deployments.push('DELETED', deployment('web', { rv: '101' }));
    assert.deepEqual([t.enqueued, t.tombstones], [[], []]);
  });

  it('drift on a managed Service (someone patched it) re-enqueues its Deployment', async () => {
    const t = await routed({ services: [{ ...expectedService('web'), metadata: { ...expectedService('web').metadata, uid: 's1', resourceVersion: '5' } }] });
    t.services.store.patch('shop', 'web', { spec: { ports: [{ port: 1 }] } });
    assert.deepEqual(t.enqueued, ['shop/web']);
  });

  it('a managed object created or deleted enqueues nothing here (creation is ours, deletion the recreate controllers\')', async () => {
    const t = await routed();
    t.services.store.create('shop', expectedService('web'));
    t.services.store.deleteByUser('shop', 'web');
    assert.deepEqual(t.enqueued, []);
  });

  it('a Deployment added, changed in labels, annotations or spec, or deleted enqueues its key; a deletion also leaves its uid for the record', async () => {
    const t = await routed();
    t.deployments.push('ADDED', deployment('web'));
    t.deployments.push('MODIFIED', deployment('web', { rv: '101', labels: { ingReq: 'needed' } }));
    t.deployments.push('MODIFIED', deployment('web', { rv: '102', labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': '/a' } }));
    const respec = deployment('web', { rv: '103', labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': '/a' } });
    respec.metadata!.generation = 2;
    t.deployments.push('MODIFIED', respec);
    t.deployments.push('DELETED', deployment('web', { rv: '104' }));
    assert.deepEqual(t.enqueued, ['shop/web', 'shop/web', 'shop/web', 'shop/web', 'shop/web']);
    assert.deepEqual(t.tombstones, ['uid-web']);
  });

  it("a status-only update (a rollout's replicas) enqueues nothing; being deleted (deletionTimestamp) does", async () => {
    const t = await routed();
    t.deployments.push('ADDED', deployment('web'));
    for (const rv of ['101', '102', '103']) t.deployments.push('MODIFIED', { ...deployment('web', { rv }), status: { readyReplicas: Number(rv) - 100 } });
    assert.deepEqual(t.enqueued, ['shop/web']);
    t.deployments.push('MODIFIED', deployment('web', { rv: '104', deleting: true }));
    assert.deepEqual(t.enqueued, ['shop/web', 'shop/web']);
  });

  it('a Deployment in a namespace not watched is not even noted: no tombstone that nothing would clear', async () => {
    const t = await routed();
    t.deployments.push('ADDED', deployment('dns', { namespace: 'kube-system' }));
    t.deployments.push('DELETED', deployment('dns', { namespace: 'kube-system', rv: '101' }));
    assert.deepEqual([t.enqueued, t.tombstones], [[], []]);
  });
});

describe('routeRecreationEvents (service- and ingress-controller)', () => {
  it('a deleted managed object is noted as witnessed and its owner enqueued; updates are not their business', async () => {
    const noted: string[] = [];
    const enqueued: string[] = [];
    const owned = { ...expectedService('web'), metadata: { ...expectedService('web').metadata, uid: 's1', resourceVersion: '5' } };
    const services = await storeWithCache<V1Service>('Service', [owned]);
    let active = false;
    routeRecreationEvents({
      owned: services.cache.informer,
      noteDeleted: (k) => void noted.push(k),
      watched: (key) => !key.startsWith('kube-system/'),
      active: () => active,
      enqueue: (k) => void enqueued.push(k),
    });
    const before = { ...owned, metadata: { ...owned.metadata, name: 'before', uid: 's0' } };
    services.store.seed(before);
    services.store.patch('shop', 'before', { metadata: { annotations: { a: 'b' } } });
    services.store.deleteByUser('shop', 'before');
    assert.deepEqual([noted, enqueued], [[], []], 'a standby notes no evidence and enqueues nothing');
    active = true;
    services.store.patch('shop', 'web', { metadata: { annotations: { a: 'b' } } });
    assert.deepEqual(enqueued, []);
    services.store.deleteByUser('shop', 'web');
    assert.deepEqual([noted, enqueued], [['shop/web'], ['shop/web']]);
    // Not its business: not noted (nothing would ever clear it), not enqueued.
    const elsewhere = { ...expectedService('dns'), metadata: { ...expectedService('dns').metadata, namespace: 'kube-system', uid: 's2', resourceVersion: '6' } };
    services.store.seed(elsewhere);
    services.store.patch('kube-system', 'dns', { metadata: { annotations: { a: 'b' } } });
    services.store.deleteByUser('kube-system', 'dns');
    assert.deepEqual([noted, enqueued], [['shop/web'], ['shop/web']]);
  });
});

describe('indexHosts and heldHostVeto (ingress-controller)', () => {
  const sharing = { 'ekspose.io/host': 'shop.example.com' };

  it('vetoes bringing back an Ingress whose host and path an older managed Ingress holds, and lifts it when that one goes', async () => {
    const holder: V1Ingress = { ...expectedIngress('api', { host: 'shop.example.com' }) };
    holder.metadata = { ...holder.metadata, uid: 'i1', resourceVersion: '3', ...created('2024-01-01T00:00:00Z') };
    const ingresses = await storeWithCache<V1Ingress>('Ingress', [holder]);
    const freed: string[] = [];
    const veto = heldHostVeto(indexHosts([ingresses.cache.informer as never], (f) => void freed.push(...f.map((c) => `${c.host}${c.path}`))));
    // The informer listed it before the index subscribed; the watch brings it in.
    ingresses.store.patch('shop', 'api', { metadata: { annotations: { touched: 'yes' } } });
    const web = specOf(deployment('web', { labels: { ingReq: 'needed' }, annotations: sharing }));
    assert.match(veto(web) ?? '', /shop\.example\.com\/ is held by shop\/api/);
    const elsewhere = specOf(deployment('web', { labels: { ingReq: 'needed' }, annotations: { ...sharing, 'ekspose.io/path': '/web' } }));
    assert.equal(veto(elsewhere), undefined, 'another path on the same host is free');
    ingresses.store.deleteByUser('shop', 'api');
    assert.deepEqual(freed, ['shop.example.com/']);
    assert.equal(veto(web), undefined);
  });

  it('no veto for a Deployment without an Ingress', async () => {
    const ingresses = await storeWithCache<V1Ingress>('Ingress', []);
    assert.equal(heldHostVeto(indexHosts([ingresses.cache.informer as never]))(specOf(deployment('web'))), undefined);
  });
});
