import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { type StatusEvent, exposureStatus, lastUserChange } from './exposure-status';
import type { HttpRoute } from './http-route';

const UID = 'uid-web';
const changed = '2026-01-01T10:00:00Z';
function deployment(labels: Record<string, string> = {}, annotations: Record<string, string> = {}): V1Deployment {
  return {
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: UID,
      labels,
      annotations,
      creationTimestamp: new Date('2026-01-01T09:00:00Z'),
      managedFields: [
        { manager: 'kubectl', operation: 'Update', time: new Date(changed) },
        // A status write later than the user's change does not count as one.
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: new Date('2026-01-01T11:00:00Z') },
      ],
    },
  };
}
const ours = { labels: { 'app.kubernetes.io/managed-by': 'ekspose' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: UID, controller: true }] };
const service = (metadata: object = ours): V1Service => ({ metadata: { name: 'web', namespace: 'shop', ...metadata }, spec: { ports: [{ port: 8080 }] } });
const ingress = (tls = false): V1Ingress => ({
  metadata: { name: 'web', namespace: 'shop', ...ours },
  spec: { rules: [{ host: 'web.shop.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: {} }] } }], ...(tls ? { tls: [{ hosts: ['web.shop.example.com'] }] } : {}) },
});
const event = (reason: string, at: string, type = 'Warning', note = `${reason} note`): StatusEvent => ({ type, reason, note, at: new Date(at) });

describe('exposureStatus', () => {
  it('Service only: exposed at the in-cluster URL', () => {
    assert.deepEqual(exposureStatus({ deployment: deployment(), service: service(), events: [] }), {
      namespace: 'shop', name: 'web', exposedAs: 'Service only', url: 'http://web.shop.svc:8080/', state: 'exposed', reason: '',
    });
  });

  it('an Ingress: its host and path, https when TLS covers the host', () => {
    const s = exposureStatus({ deployment: deployment({ ingReq: 'needed' }), service: service(), ingress: ingress(true), events: [] });
    assert.deepEqual([s.exposedAs, s.url, s.state], ['Ingress', 'https://web.shop.example.com/api', 'exposed']);
  });

  it('an HTTPRoute its Gateway does not accept: not accepted, with the condition', () => {
    const route: HttpRoute = {
      metadata: { name: 'web', namespace: 'shop', ...ours },
      spec: { parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'infra' }], hostnames: ['web.shop.example.com'], rules: [{ matches: [{ path: { value: '/' } }] }] },
      status: { parents: [{ parentRef: { name: 'public', namespace: 'infra' }, controllerName: 'gw.example/x', conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }] }] },
    };
    const s = exposureStatus({ deployment: deployment({ ingReq: 'needed' }, { 'ekspose.io/route-kind': 'httproute' }), service: service(), httpRoute: route, events: [] });
    assert.deepEqual([s.exposedAs, s.url, s.state], ['HTTPRoute', 'http://web.shop.example.com/', 'not accepted']);
    assert.match(s.reason, /not accepted by Gateway infra\/public \(gw\.example\/x\): NotAllowedByListeners/);

    // The same entry once the route names another Gateway: the old Gateway's word, not the route's state.
    const moved: HttpRoute = { ...route, spec: { ...route.spec, parentRefs: [{ name: 'private', namespace: 'infra' }] } };
    assert.equal(exposureStatus({ deployment: deployment({ ingReq: 'needed' }, { 'ekspose.io/route-kind': 'httproute' }), service: service(), httpRoute: moved, events: [] }).state, 'exposed');
  });

  it('an HTTPRoute on a Gateway with an HTTPS listener: an https URL, with the listener\'s port', () => {
    const route: HttpRoute = {
      metadata: { name: 'web', namespace: 'shop', ...ours },
      spec: { parentRefs: [{ name: 'public', namespace: 'infra' }], hostnames: ['web.shop.example.com'], rules: [{ matches: [{ path: { value: '/api' } }] }] },
    };
    const gateway = { spec: { listeners: [{ name: 'web', port: 80, protocol: 'HTTP' }, { name: 'websecure', port: 8443, protocol: 'HTTPS' }] } };
    const dep = deployment({ ingReq: 'needed' }, { 'ekspose.io/route-kind': 'httproute' });
    assert.equal(exposureStatus({ deployment: dep, service: service(), httpRoute: route, gateway, events: [] }).url, 'https://web.shop.example.com:8443/api');
    assert.equal(exposureStatus({ deployment: dep, service: service(), httpRoute: route, events: [] }).url, 'http://web.shop.example.com/api');
  });

  it('an invalid label fixed since: a Service ekspose wrote in a later second than the Warning says exposed, before any Normal Event', () => {
    const at = '2026-01-01T10:00:00.231Z';
    // The user's change lands in the same second as the Warning (managedFields keep whole seconds).
    const fixed = deployment();
    fixed.metadata!.managedFields![0]!.time = new Date('2026-01-01T10:00:01Z');
    const written = service({ ...ours, creationTimestamp: new Date('2026-01-01T10:00:01Z') });
    const s = exposureStatus({ deployment: fixed, service: written, events: [event('InvalidSpec', at, 'Warning', 'not exposed: port "abc"')] });
    assert.equal(s.state, 'exposed');
    // The same Service written in the Warning's own second, or before it, does not outrank it.
    const before = service({ ...ours, creationTimestamp: new Date('2026-01-01T10:00:00Z') });
    assert.equal(exposureStatus({ deployment: fixed, service: before, events: [event('InvalidSpec', at, 'Warning', 'not exposed: port "abc"')] }).state, 'invalid');
  });

  it('an invalid label reported after the last change: invalid with the note, even while the old objects stand', () => {
    const s = exposureStatus({ deployment: deployment({ port: 'abc' }), service: service(), events: [event('InvalidSpec', '2026-01-01T10:00:01Z', 'Warning', 'not exposed: port "abc"')] });
    assert.deepEqual([s.state, s.reason], ['invalid', 'not exposed: port "abc"']);
  });

  it('a Warning older than the last change is history, not the state', () => {
    const s = exposureStatus({ deployment: deployment(), service: service(), events: [event('InvalidSpec', '2026-01-01T09:30:00Z')] });
    assert.equal(s.state, 'exposed');
  });

  it('an object of its name that ekspose does not own: conflict, whatever the Events say', () => {
    const s = exposureStatus({ deployment: deployment(), service: service({ labels: {} }), events: [event('Exposed', '2026-01-01T10:00:05Z', 'Normal')] });
    assert.equal(s.state, 'conflict');
    assert.match(s.reason, /Service web is not ekspose's: it has no app.kubernetes.io\/managed-by=ekspose label/);
  });

  it('a host held by another Deployment: waiting for host until its route is made', () => {
    const dep = deployment({ ingReq: 'needed' });
    const held = [event('HostConflict', '2026-01-01T10:00:02Z', 'Warning', 'host web.shop.example.com is taken by Ingress shop/old')];
    assert.equal(exposureStatus({ deployment: dep, service: service(), events: held }).state, 'waiting for host');
    assert.equal(exposureStatus({ deployment: dep, service: service(), ingress: ingress(), events: held }).state, 'exposed');
  });

  it('nothing made yet: pending, saying what is missing; ignored: ignored', () => {
    const s = exposureStatus({ deployment: deployment(), events: [] });
    assert.deepEqual([s.state, s.url], ['pending', '']);
    assert.match(s.reason, /no Service made by ekspose yet/);
    assert.equal(exposureStatus({ deployment: deployment({ 'ekspose.io/ignore': 'true' }), events: [] }).state, 'ignored');
  });

  it("the user's last change ignores status writes", () => {
    assert.equal(lastUserChange(deployment()).toISOString(), new Date(changed).toISOString());
  });
});
