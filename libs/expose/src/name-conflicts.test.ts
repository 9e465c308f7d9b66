import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NameConflicts } from './name-conflicts';

describe('NameConflicts', () => {
  it('tells which Deployment waits for which kind, per key and kind', () => {
    const conflicts = new NameConflicts();
    conflicts.hold('shop/web', 'Service');
    conflicts.hold('shop/web', 'Ingress');
    conflicts.hold('shop/api', 'Service');
    assert.equal(conflicts.isHeld('shop/web', 'Service'), true);
    assert.equal(conflicts.isHeld('shop/web', 'HTTPRoute'), false, 'another kind of the same name is not waited for');
    assert.equal(conflicts.isHeld('other/web', 'Service'), false, 'the same name in another namespace is another Deployment');
    conflicts.release('shop/web', 'Service');
    assert.equal(conflicts.isHeld('shop/web', 'Service'), false);
    assert.equal(conflicts.isHeld('shop/web', 'Ingress'), true);
    assert.equal(conflicts.size, 2);
  });

  it('keeps nothing once names are taken or Deployments are gone', () => {
    const conflicts = new NameConflicts();
    conflicts.hold('shop/web', 'Service');
    conflicts.hold('shop/web', 'Service');
    conflicts.hold('shop/api', 'Ingress');
    conflicts.release('shop/web', 'Service');
    conflicts.forget('shop/api');
    conflicts.forget('shop/never');
    conflicts.release('shop/never', 'Service');
    assert.equal(conflicts.size, 0);
  });
});
