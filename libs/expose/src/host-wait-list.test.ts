import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostWaitList } from './host-wait-list';

describe('HostWaitList', () => {
  it('releases the keys waiting for a freed host and path, once', () => {
    const list = new HostWaitList();
    list.wait('ns/b', 'shop.example', '/');
    list.wait('ns/c', 'shop.example', '/');
    list.wait('ns/d', 'shop.example', '/api');
    assert.deepEqual(list.release([{ host: 'shop.example', path: '/' }]).sort(), ['ns/b', 'ns/c']);
    assert.deepEqual(list.release([{ host: 'shop.example', path: '/' }]), [], 'told once');
    assert.deepEqual(list.release([{ host: 'shop.example', path: '/api' }]), ['ns/d'], 'another path waits on its own');
  });

  it('keeps one entry per Deployment: waiting for another host moves it, forget drops it, nothing is left', () => {
    const list = new HostWaitList();
    list.wait('ns/b', 'shop.example', '/');
    list.wait('ns/b', 'shop.example', '/');
    list.wait('ns/b', 'other.example', '/');
    assert.equal(list.size, 1);
    assert.deepEqual(list.release([{ host: 'shop.example', path: '/' }]), [], 'no longer waits for its old host');
    list.wait('ns/c', 'other.example', '/');
    list.forget('ns/c');
    list.forget('ns/unknown');
    assert.deepEqual(list.release([{ host: 'other.example', path: '/' }]), ['ns/b']);
    assert.equal(list.size, 0);
  });
});
