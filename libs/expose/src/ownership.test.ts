import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { controllerReference, isManaged, ownershipOf } from './ownership';

const managed = { 'app.kubernetes.io/managed-by': 'ekspose', 'ekspose.io/deployment': 'web' };
const depRef = (uid: string, controller = true): V1OwnerReference => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  name: 'web',
  uid,
  controller,
});

function meta(labels: Record<string, string> | undefined, ownerReferences?: V1OwnerReference[]): V1ObjectMeta {
  return { name: 'web', namespace: 'shop', labels, ownerReferences };
}

describe('isManaged / controllerReference', () => {
  it('needs the managed-by label with the value ekspose', () => {
    assert.equal(isManaged(meta(managed)), true);
    assert.equal(isManaged(meta({ 'app.kubernetes.io/managed-by': 'helm' })), false);
    assert.equal(isManaged(meta(undefined)), false);
    assert.equal(isManaged(undefined), false);
  });

  it('finds the reference with controller: true, not just the first one', () => {
    const ours = depRef('uid-1');
    assert.equal(controllerReference(meta(managed, [depRef('other', false), ours])), ours);
    assert.equal(controllerReference(meta(managed, [depRef('other', false)])), undefined);
  });
});

describe('ownershipOf', () => {
  it('owned: managed and controlled by this uid', () => {
    assert.deepEqual(ownershipOf(meta(managed, [depRef('uid-1')]), 'uid-1'), { kind: 'owned' });
  });

  it('owned even with other, non-controller owner references', () => {
    const refs = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'cm', uid: 'cm-1' }, depRef('uid-1')];
    assert.deepEqual(ownershipOf(meta(managed, refs), 'uid-1'), { kind: 'owned' });
  });

  it('stale with the previous uid: managed, controlled by another Deployment uid', () => {
    assert.deepEqual(ownershipOf(meta(managed, [depRef('old-uid')]), 'uid-1'), { kind: 'stale', previousUid: 'old-uid' });
  });

  it('stale without a previous uid: managed, controlled by nobody', () => {
    assert.deepEqual(ownershipOf(meta(managed, []), 'uid-1'), { kind: 'stale', previousUid: undefined });
    assert.deepEqual(ownershipOf(meta(managed, [depRef('uid-1', false)]), 'uid-1'), { kind: 'stale', previousUid: undefined });
  });

  it('foreign: no managed-by label, even when controlled by this very Deployment', () => {
    const own = ownershipOf(meta({ app: 'web' }, [depRef('uid-1')]), 'uid-1');
    assert.equal(own.kind, 'foreign');
    assert.match((own as { reason: string }).reason, /app\.kubernetes\.io\/managed-by=ekspose/);
  });

  it('foreign: managed label but controlled by something that is not a Deployment', () => {
    const rs: V1OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1', controller: true };
    const own = ownershipOf(meta(managed, [rs]), 'uid-1');
    assert.equal(own.kind, 'foreign');
    assert.match((own as { reason: string }).reason, /ReplicaSet web-abc/);
  });

  it('foreign: a "Deployment" of another API group is not ours', () => {
    const crd: V1OwnerReference = { apiVersion: 'example.com/v1', kind: 'Deployment', name: 'web', uid: 'uid-1', controller: true };
    assert.equal(ownershipOf(meta(managed, [crd]), 'uid-1').kind, 'foreign');
  });
});
