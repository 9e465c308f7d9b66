import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { LAST_APPLIED_ANNOTATION, identityOnly, slimDeployment, slimOwned } from './cache-transforms';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }];

describe('cache transforms', () => {
  it('slimDeployment keeps metadata (minus managedFields and last-applied) and the selector only', () => {
    const dep: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        deletionTimestamp: new Date(0),
        labels: { port: '8080', ingReq: 'needed' },
        annotations: { [LAST_APPLIED_ANNOTATION]: '{"huge":true}', 'ekspose.io/path': '/api' },
        managedFields,
      },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
      status: { replicas: 1 },
    };
    const before = JSON.stringify(dep);
    assert.deepEqual(slimDeployment(dep), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        deletionTimestamp: new Date(0),
        labels: { port: '8080', ingReq: 'needed' },
        annotations: { 'ekspose.io/path': '/api' },
      },
      spec: { selector: { matchLabels: { app: 'web' } } },
    });
    assert.equal(JSON.stringify(dep), before, 'the input is not mutated');
  });

  it('slimOwned keeps the whole object but managedFields and last-applied; no annotations stays no annotations', () => {
    const svc: V1Service = {
      metadata: { name: 'web', resourceVersion: '3', managedFields, labels: { a: 'b' } },
      spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] },
    };
    assert.deepEqual(slimOwned(svc), { metadata: { name: 'web', resourceVersion: '3', labels: { a: 'b' } }, spec: svc.spec });
    assert.equal(svc.metadata?.managedFields, managedFields, 'the input is not mutated');
    assert.deepEqual(slimOwned({ metadata: { name: 'x', annotations: { keep: 'me' } } }), { metadata: { name: 'x', annotations: { keep: 'me' } } });
  });

  it('identityOnly keeps who the object is and who controls it, and only the labels named', () => {
    const created = new Date('2026-01-02T03:04:05Z');
    const svc: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        creationTimestamp: created,
        labels: { 'app.kubernetes.io/managed-by': 'Helm', team: 'a' },
        annotations: { [LAST_APPLIED_ANNOTATION]: '{}', note: 'x' },
        managedFields,
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'c1' },
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { ports: [{ port: 80 }] },
    };
    assert.deepEqual(identityOnly(['app.kubernetes.io/managed-by', 'absent'])(svc), {
      metadata: {
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        creationTimestamp: created,
        labels: { 'app.kubernetes.io/managed-by': 'Helm' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }],
      },
    });
    assert.deepEqual(identityOnly(['x'])({ metadata: { name: 'bare', namespace: 'n', uid: 'u', resourceVersion: '1' } }), {
      metadata: { name: 'bare', namespace: 'n', uid: 'u', resourceVersion: '1' },
    });
    assert.equal(svc.metadata?.labels?.team, 'a', 'the input is not mutated');
  });
});
