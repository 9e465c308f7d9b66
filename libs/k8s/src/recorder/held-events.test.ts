import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeldEvents } from './held-events';

const web = { name: 'web', namespace: 'shop', uid: 'uid-web' };
const api = { name: 'api', namespace: 'shop', uid: 'uid-api' };

describe('HeldEvents', () => {
  it('holds one per object and reason: a newer message replaces the older and keeps its place in line', () => {
    const held = new HeldEvents();
    assert.equal(held.hold(web, 'Exposed', 'reachable at http://a', 1), 'held');
    assert.equal(held.hold(api, 'Exposed', 'reachable at http://b', 2), 'held');
    assert.equal(held.hold(web, 'Exposed', 'reachable at http://c', 3), 'replaced');
    assert.equal(held.size, 2);
    assert.deepEqual(held.shift(), { obj: web, reason: 'Exposed', message: 'reachable at http://c', at: 3, first: 3, since: 1, count: 1 });
    assert.equal(held.shift()?.obj, api);
    assert.equal(held.shift(), undefined);
  });

  it('counts a repeat of the same message instead of holding it twice', () => {
    const held = new HeldEvents();
    held.hold(web, 'ServiceRecreated', 'recreated', 1);
    assert.equal(held.hold(web, 'ServiceRecreated', 'recreated', 5), 'repeated');
    assert.equal(held.hold(web, 'ServiceRecreated', 'recreated', 9), 'repeated');
    assert.deepEqual(held.oldest(), { obj: web, reason: 'ServiceRecreated', message: 'recreated', at: 9, first: 1, since: 1, count: 3 });
    assert.equal(held.hold(web, 'ServiceRecreated', 'recreated, again differently', 10), 'replaced');
    assert.equal(held.oldest()?.count, 1, 'a different message starts the count afresh');
  });

  it('tells another reason or another object (by uid) apart', () => {
    const held = new HeldEvents();
    held.hold(web, 'Exposed', 'm', 1);
    held.hold(web, 'ServiceCreated', 'm', 1);
    held.hold({ ...web, uid: 'uid-web-2' }, 'Exposed', 'm', 1);
    assert.equal(held.size, 3);
    assert.ok(held.has(web, 'ServiceCreated'));
    assert.equal(held.clear(), 3);
    assert.equal(held.size, 0);
  });
});
