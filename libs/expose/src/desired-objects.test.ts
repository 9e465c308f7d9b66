import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExposeSpec } from '@ekspose/labels';
import { deploymentOwnerReference, desiredIngress, desiredService, ownedLabels } from './desired-objects';

const ownerRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-1', controller: true };
const labels = { 'app.kubernetes.io/managed-by': 'ekspose', 'ekspose.io/deployment': 'web' };

function spec(overrides: Partial<ExposeSpec> = {}): ExposeSpec {
  return {
    namespace: 'shop',
    name: 'web',
    uid: 'uid-1',
    port: 8080,
    targetPort: 'http-alt',
    selector: { app: 'web', tier: 'front' },
    ingress: null,
    ...overrides,
  };
}

describe('ownedLabels / deploymentOwnerReference', () => {
  it('names ekspose and the Deployment', () => {
    assert.deepEqual(ownedLabels('web'), labels);
  });

  it('is a controller reference to the Deployment uid, without blockOwnerDeletion', () => {
    assert.deepEqual(deploymentOwnerReference({ name: 'web', uid: 'uid-1' }), ownerRef);
  });
});

describe('desiredService', () => {
  it('is exactly a ClusterIP Service named after the Deployment with one TCP port "http"', () => {
    assert.deepEqual(desiredService(spec()), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop', labels, ownerReferences: [ownerRef] },
      spec: {
        type: 'ClusterIP',
        selector: { app: 'web', tier: 'front' },
        ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http-alt' }],
      },
    });
  });

  it('keeps a numeric targetPort numeric', () => {
    assert.deepEqual(desiredService(spec({ port: 80, targetPort: 8080 })).spec?.ports, [
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
    ]);
  });

  it('copies the selector rather than sharing it with the spec', () => {
    const s = spec();
    const svc = desiredService(s);
    const selector = svc.spec?.selector;
    assert.ok(selector);
    selector.extra = 'x';
    assert.deepEqual(s.selector, { app: 'web', tier: 'front' });
  });
});

describe('desiredIngress', () => {
  it('is null when the Deployment does not want an Ingress', () => {
    assert.equal(desiredIngress(spec({ ingress: null })), null);
  });

  it('is one rule for the host with one Prefix path to the Service port, no class and no tls by default', () => {
    const ing = desiredIngress(spec({ ingress: { routeKind: 'ingress', host: 'web.shop.example.com', path: '/api' } }));
    assert.deepEqual(ing, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'web', namespace: 'shop', labels, ownerReferences: [ownerRef] },
      spec: {
        rules: [
          {
            host: 'web.shop.example.com',
            http: {
              paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }],
            },
          },
        ],
      },
    });
    const keys = Object.keys(ing?.spec ?? {});
    assert.ok(!keys.includes('ingressClassName'), 'no ingressClassName key at all, so the cluster default applies');
    assert.ok(!keys.includes('tls'));
  });

  it('sets ingressClassName and tls for the host when configured', () => {
    const ing = desiredIngress(
      spec({ ingress: { routeKind: 'ingress', host: 'web.example.com', path: '/', ingressClassName: 'nginx', tlsSecret: 'web-tls' } }),
    );
    assert.equal(ing?.spec?.ingressClassName, 'nginx');
    assert.deepEqual(ing?.spec?.tls, [{ hosts: ['web.example.com'], secretName: 'web-tls' }]);
  });
});
