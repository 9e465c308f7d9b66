import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type {
  V1Ingress,
  V1IngressSpec,
  V1ObjectMeta,
  V1OwnerReference,
  V1Service,
  V1ServicePort,
  V1ServiceSpec,
} from '@kubernetes/client-node';
import type { ExposeSpec, IngressExposure } from '@ekspose/labels';
import { canonical, ingressDrift, serviceDrift } from './drift';
import { desiredIngress, desiredService } from './desired-objects';

const baseIngress: IngressExposure = { routeKind: 'ingress', host: 'web.shop.example.com', path: '/' };
const base: ExposeSpec = {
  namespace: 'shop',
  name: 'web',
  uid: 'uid-1',
  port: 80,
  targetPort: 8080,
  selector: { app: 'web' },
  ingress: baseIngress,
};
const ourRef: V1OwnerReference = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-1', controller: true };
const clone = <T>(x: T): T => structuredClone(x);

/** Live objects always have metadata, labels and a spec: typed so, tests can edit them directly. */
type LiveMeta = V1ObjectMeta & { labels: Record<string, string> };
interface LiveService extends V1Service {
  metadata: LiveMeta;
  spec: V1ServiceSpec & { ports: V1ServicePort[] };
}
interface LiveIngress extends V1Ingress {
  metadata: LiveMeta;
  spec: V1IngressSpec;
}

function wantIngress(spec: ExposeSpec): V1Ingress {
  const desired = desiredIngress(spec);
  assert.ok(desired);
  return desired;
}

/**
 * The Service as the API server returns it after creating desiredService(base):
 * our fields plus everything the server and other tools add. Some fields are
 * present-but-undefined, as client-node's list deserialisation leaves them.
 */
function liveService(): LiveService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'svc-uid',
      resourceVersion: '42',
      generation: 1,
      creationTimestamp: new Date('2025-01-01T00:00:00Z'),
      labels: {
        'app.kubernetes.io/managed-by': 'ekspose',
        'ekspose.io/deployment': 'web',
        'team': 'checkout',
      },
      annotations: { 'example.com/owner': 'someone', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'extra', uid: 'cm-uid' }, { ...ourRef, blockOwnerDeletion: undefined }],
      managedFields: [{ manager: 'ekspose', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: {} }],
      finalizers: undefined,
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      externalName: undefined,
      selector: { app: 'web' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 as never, appProtocol: undefined, nodePort: undefined }],
    },
    status: { loadBalancer: {} },
  };
}

function liveIngress(): LiveIngress {
  const desired = wantIngress(base);
  return {
    ...clone(desired),
    metadata: {
      ...clone(desired.metadata),
      uid: 'ing-uid',
      resourceVersion: '43',
      generation: 1,
      creationTimestamp: new Date('2025-01-01T00:00:00Z'),
      labels: { ...desired.metadata?.labels, 'argocd.argoproj.io/instance': 'shop' },
      annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/' },
      managedFields: [{ manager: 'ekspose', operation: 'Update' }],
    },
    spec: {
      // The DefaultIngressClass admission plugin filled this in on create.
      ingressClassName: 'nginx',
      defaultBackend: undefined,
      rules: [
        {
          host: 'web.shop.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { resource: undefined, service: { name: 'web', port: { name: undefined, number: 80 } } },
              },
            ],
          },
        },
      ],
      tls: undefined,
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } },
  };
}

describe('canonical', () => {
  it('sorts object keys at every depth and drops undefined, so equal content is equal text', () => {
    assert.equal(canonical({ b: 1, a: { d: [{ y: 1, x: 2 }], c: undefined } }), '{"a":{"d":[{"x":2,"y":1}]},"b":1}');
    assert.equal(canonical({ a: 1, b: { c: 2, d: 3 } }), canonical({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('keeps array order: a reordered list is a different list', () => {
    assert.notEqual(canonical([1, 2]), canonical([2, 1]));
  });

  it('tells different values apart', () => {
    assert.notEqual(canonical({ a: 1 }), canonical({ a: '1' }));
    assert.notEqual(canonical({ a: null }), canonical({}));
  });
});

describe('serviceDrift', () => {
  it('is null for a live Service equal in our fields, whatever the server and other tools added (zero writes)', () => {
    assert.equal(serviceDrift(liveService(), desiredService(base)), null);
  });

  it('is null when the server has filled in protocol and targetPort defaults', () => {
    const live = liveService();
    live.spec.ports = [{ name: 'http', port: 8080 }];
    assert.equal(serviceDrift(live, desiredService({ ...base, port: 8080, targetPort: 8080 })), null);
  });

  it('a changed port: a patch that replaces the ports and carries the resourceVersion, nothing else', () => {
    const desired = desiredService({ ...base, port: 9090, targetPort: 9090 });
    assert.deepEqual(serviceDrift(liveService(), desired), {
      metadata: { resourceVersion: '42' },
      spec: { ports: [{ name: 'http', protocol: 'TCP', port: 9090, targetPort: 9090 }] },
    });
  });

  it('a changed targetPort alone is drift', () => {
    const patch = serviceDrift(liveService(), desiredService({ ...base, targetPort: 'web' }));
    assert.deepEqual(patch?.spec, { ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' }] });
  });

  it('an extra live port is drift: ekspose owns the whole port list', () => {
    const live = liveService();
    live.spec.ports.push({ name: 'metrics', protocol: 'TCP', port: 9100, targetPort: 9100 as never });
    assert.deepEqual(serviceDrift(live, desiredService(base))?.spec, { ports: desiredService(base).spec?.ports });
  });

  it('a selector key the Deployment no longer has is removed with null, the others set', () => {
    const live = liveService();
    live.spec.selector = { app: 'web', tier: 'front' };
    assert.deepEqual(serviceDrift(live, desiredService(base)), {
      metadata: { resourceVersion: '42' },
      spec: { selector: { app: 'web', tier: null } },
    });
  });

  it('a changed selector value is set', () => {
    const desired = desiredService({ ...base, selector: { app: 'web2' } });
    assert.deepEqual(serviceDrift(liveService(), desired)?.spec, { selector: { app: 'web2' } });
  });

  it('a changed type is set back to ClusterIP', () => {
    const live = liveService();
    live.spec.type = 'NodePort';
    assert.deepEqual(serviceDrift(live, desiredService(base))?.spec, { type: 'ClusterIP' });
  });

  it('missing owned labels: only the missing ones are in the patch, no spec', () => {
    const live = liveService();
    delete live.metadata.labels['ekspose.io/deployment'];
    assert.deepEqual(serviceDrift(live, desiredService(base)), {
      metadata: { labels: { 'ekspose.io/deployment': 'web' }, resourceVersion: '42' },
    });
  });

  it('a wrong value of an owned label is corrected', () => {
    const live = liveService();
    live.metadata.labels['ekspose.io/deployment'] = 'api';
    assert.deepEqual(serviceDrift(live, desiredService(base))?.metadata, {
      labels: { 'ekspose.io/deployment': 'web' },
      resourceVersion: '42',
    });
  });

  it('a foreign controller reference is replaced by ours; non-controller references are kept', () => {
    const live = liveService();
    const cm: V1OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'extra', uid: 'cm-uid' };
    live.metadata.ownerReferences = [
      cm,
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs-uid', controller: true },
    ];
    assert.deepEqual(serviceDrift(live, desiredService(base)), {
      metadata: { ownerReferences: [cm, ourRef], resourceVersion: '42' },
    });
  });

  it('a controller reference to the old uid (a replaced Deployment) is replaced', () => {
    const live = liveService();
    live.metadata.ownerReferences = [{ ...ourRef, uid: 'old-uid' }];
    assert.deepEqual(serviceDrift(live, desiredService(base))?.metadata, { ownerReferences: [ourRef], resourceVersion: '42' });
  });

  it('no owner references at all: ours is added', () => {
    const live = liveService();
    delete live.metadata.ownerReferences;
    assert.deepEqual(serviceDrift(live, desiredService(base))?.metadata, { ownerReferences: [ourRef], resourceVersion: '42' });
  });

  it('does not change the live object or the desired one', () => {
    const live = liveService();
    const desired = desiredService({ ...base, port: 81, selector: { x: 'y' } });
    const liveBefore = canonical(live);
    const desiredBefore = canonical(desired);
    serviceDrift(live, desired);
    assert.equal(canonical(live), liveBefore);
    assert.equal(canonical(desired), desiredBefore);
  });
});

describe('ingressDrift', () => {
  it('is null for a live Ingress equal in our fields, with a class the cluster defaulted while we want none', () => {
    assert.equal(ingressDrift(liveIngress(), wantIngress(base)), null);
  });

  it('is null when the wanted class and tls are there', () => {
    const spec: ExposeSpec = { ...base, ingress: { ...baseIngress, ingressClassName: 'nginx', tlsSecret: 'web-tls' } };
    const live = liveIngress();
    live.spec.tls = [{ hosts: ['web.shop.example.com'], secretName: 'web-tls' }];
    assert.equal(ingressDrift(live, wantIngress(spec)), null);
  });

  it('a configured class that differs is set', () => {
    const spec: ExposeSpec = { ...base, ingress: { ...baseIngress, ingressClassName: 'traefik' } };
    assert.deepEqual(ingressDrift(liveIngress(), wantIngress(spec)), {
      metadata: { resourceVersion: '43' },
      spec: { ingressClassName: 'traefik' },
    });
  });

  it('a changed port replaces the rules', () => {
    const desired = wantIngress({ ...base, port: 8080 });
    assert.deepEqual(ingressDrift(liveIngress(), desired), {
      metadata: { resourceVersion: '43' },
      spec: { rules: desired.spec?.rules },
    });
  });

  it('a changed host or path replaces the rules', () => {
    for (const ingress of [{ ...baseIngress, host: 'shop.example.com' }, { ...baseIngress, path: '/v2' }]) {
      const desired = wantIngress({ ...base, ingress });
      assert.deepEqual(ingressDrift(liveIngress(), desired)?.spec, { rules: desired.spec?.rules });
    }
  });

  it('tls added when configured', () => {
    const spec: ExposeSpec = { ...base, ingress: { ...baseIngress, tlsSecret: 'web-tls' } };
    assert.deepEqual(ingressDrift(liveIngress(), wantIngress(spec))?.spec, {
      tls: [{ hosts: ['web.shop.example.com'], secretName: 'web-tls' }],
    });
  });

  it('tls no longer configured: tls: null removes it', () => {
    const live = liveIngress();
    live.spec.tls = [{ hosts: ['web.shop.example.com'], secretName: 'web-tls' }];
    assert.deepEqual(ingressDrift(live, wantIngress(base)), { metadata: { resourceVersion: '43' }, spec: { tls: null } });
  });

  it('metadata drift and spec drift come in one patch', () => {
    const live = liveIngress();
    delete live.metadata.labels['app.kubernetes.io/managed-by'];
    const desired = wantIngress({ ...base, port: 81 });
    assert.deepEqual(ingressDrift(live, desired), {
      metadata: { labels: { 'app.kubernetes.io/managed-by': 'ekspose' }, resourceVersion: '43' },
      spec: { rules: desired.spec?.rules },
    });
  });
});

describe('passed-on annotations (ekspose.io/route-annotations)', () => {
  const withAnnotations = (annotations: Record<string, string>): ExposeSpec => ({ ...base, ingress: { ...baseIngress, annotations } });

  it('are set with the record of their keys; a correct object needs nothing', () => {
    const desired = wantIngress(withAnnotations({ 'b.example.com/x': '1', 'a.example.com/y': '2' }));
    assert.deepEqual(desired.metadata?.annotations, { 'b.example.com/x': '1', 'a.example.com/y': '2', 'ekspose.io/owned-annotations': 'a.example.com/y,b.example.com/x' });
    const live = liveIngress();
    live.metadata.annotations = { ...desired.metadata?.annotations, 'other-tool/z': 'kept' };
    assert.equal(ingressDrift(live, desired), null);
  });

  it('a changed value is set, a key no longer asked for is removed, other tools\' keys stay', () => {
    const live = liveIngress();
    live.metadata.annotations = { 'a/x': 'old', 'a/gone': 'v', 'ekspose.io/owned-annotations': 'a/gone,a/x', 'other-tool/z': 'kept' };
    const patch = ingressDrift(live, wantIngress(withAnnotations({ 'a/x': 'new' })));
    assert.deepEqual((patch?.metadata as { annotations: unknown }).annotations, { 'a/x': 'new', 'a/gone': null, 'ekspose.io/owned-annotations': 'a/x' });
  });

  it('none asked for any more: the keys and the record go', () => {
    const live = liveIngress();
    live.metadata.annotations = { 'a/x': 'v', 'ekspose.io/owned-annotations': 'a/x', 'other-tool/z': 'kept' };
    const patch = ingressDrift(live, wantIngress(base));
    assert.deepEqual((patch?.metadata as { annotations: unknown }).annotations, { 'a/x': null, 'ekspose.io/owned-annotations': null });
  });
});
