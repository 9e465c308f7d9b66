import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpRoute, ParentRef, RouteCondition } from './http-route';
import { currentParentStatus, routeRefusal, sameParent } from './route-parents';

const ours: ParentRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'http' };
const refused = (generation: number, reason = 'NotAllowedByListeners'): RouteCondition => ({ type: 'Accepted', status: 'False', reason, message: 'no listener allows routes from shop', observedGeneration: generation });
const accepted = (generation: number): RouteCondition => ({ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: generation });

function route(parents: Array<{ parentRef: ParentRef; conditions: RouteCondition[]; controllerName?: string }>, generation = 2, parentRefs: ParentRef[] = [ours]): HttpRoute {
  return {
    metadata: { name: 'web', namespace: 'shop', generation },
    spec: { parentRefs },
    status: { parents: parents.map((p) => ({ controllerName: 'traefik.io/gateway-controller', ...p })) },
  };
}

describe('sameParent (Gateway API defaults)', () => {
  it('fills in group, kind and the route namespace before comparing', () => {
    assert.ok(sameParent(ours, { namespace: 'infra', name: 'public', sectionName: 'http' }, 'shop'));
    assert.ok(sameParent({ name: 'local' }, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'shop', name: 'local' }, 'shop'));
  });

  it('tells apart another name, namespace, listener, kind or group', () => {
    assert.ok(!sameParent(ours, { ...ours, name: 'private' }, 'shop'));
    assert.ok(!sameParent(ours, { ...ours, namespace: 'shop' }, 'shop'));
    assert.ok(!sameParent(ours, { ...ours, sectionName: 'https' }, 'shop'));
    assert.ok(!sameParent(ours, { ...ours, sectionName: undefined }, 'shop'), 'the whole Gateway is not one of its listeners');
    assert.ok(!sameParent(ours, { ...ours, kind: 'ListenerSet' }, 'shop'));
    assert.ok(!sameParent(ours, { ...ours, group: 'example.com' }, 'shop'));
    assert.ok(!sameParent({ name: 'local' }, { name: 'local', namespace: 'other' }, 'shop'), 'no namespace means the route\'s own');
  });
});

describe('currentParentStatus / routeRefusal (HTTPRoute status.parents)', () => {
  it('names the Gateway, its controller and the condition when Accepted or ResolvedRefs is False for the parent ekspose wrote', () => {
    assert.equal(
      routeRefusal(route([{ parentRef: ours, conditions: [refused(2)] }])),
      'HTTPRoute web is not accepted by Gateway infra/public (traefik.io/gateway-controller): NotAllowedByListeners: no listener allows routes from shop',
    );
    const unresolved = route([{ parentRef: ours, conditions: [accepted(2), { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', observedGeneration: 2 }] }]);
    assert.match(routeRefusal(unresolved) ?? '', /not resolved .*BackendNotFound/);
  });

  it('an entry left by the previous Gateway (another parentRef) says nothing about the route now', () => {
    const moved = route([{ parentRef: { ...ours, name: 'old' }, conditions: [refused(2)] }, { parentRef: ours, conditions: [accepted(2)] }]);
    assert.equal(routeRefusal(moved), undefined);
    assert.deepEqual(currentParentStatus(moved, ours).map((p) => p.parentRef.name), ['public']);
    // Only the old Gateway has reported: nothing is known of the new one yet.
    assert.equal(routeRefusal(route([{ parentRef: { ...ours, name: 'old' }, conditions: [refused(2)] }])), undefined);
  });

  it('conditions about an older generation of the route are not current', () => {
    assert.equal(routeRefusal(route([{ parentRef: ours, conditions: [refused(1)] }], 2)), undefined);
    assert.deepEqual(currentParentStatus(route([{ parentRef: ours, conditions: [refused(1)] }], 2), ours), []);
    assert.match(routeRefusal(route([{ parentRef: ours, conditions: [refused(1), { ...refused(2), reason: 'NoMatchingListenerHostname' }] }], 2)) ?? '', /NoMatchingListenerHostname/);
  });

  it('a condition without observedGeneration counts: its writer did not say it is old', () => {
    const { observedGeneration: _, ...undated } = refused(1);
    assert.match(routeRefusal(route([{ parentRef: ours, conditions: [undated] }])) ?? '', /NotAllowedByListeners/);
  });

  it('matches the parentRef as written with defaults left out, and by default reads the route\'s own parentRef', () => {
    const short: ParentRef = { namespace: 'infra', name: 'public', sectionName: 'http' };
    assert.match(routeRefusal(route([{ parentRef: short, conditions: [refused(2)] }])) ?? '', /NotAllowedByListeners/);
    assert.equal(routeRefusal(route([{ parentRef: ours, conditions: [refused(2)] }]), { ...ours, name: 'other' }), undefined);
  });

  it('says nothing when accepted, or before any Gateway has reported, or without a parentRef', () => {
    assert.equal(routeRefusal(route([{ parentRef: ours, conditions: [accepted(2), { type: 'ResolvedRefs', status: 'True', observedGeneration: 2 }] }])), undefined);
    assert.equal(routeRefusal({ metadata: { name: 'web' } }), undefined);
    assert.equal(routeRefusal(route([{ parentRef: ours, conditions: [refused(2)] }], 2, [])), undefined);
  });
});
