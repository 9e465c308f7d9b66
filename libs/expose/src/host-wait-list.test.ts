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
});
