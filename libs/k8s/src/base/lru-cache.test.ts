import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache } from './lru-cache';

describe('LruCache', () => {
  it('remembers up to its capacity and forgets the least recently used', () => {
    const set = new LruCache<true>({ capacity: 3 });
    set.set('a', true);
    set.set('b', true);
    set.set('c', true);
    assert.equal(set.has('a'), true); // a is now the youngest
    set.set('d', true); // evicts b
    assert.equal(set.size, 3);
    assert.equal(set.has('b'), false);
    assert.equal(set.has('a'), true);
    assert.equal(set.has('c'), true);
    assert.equal(set.has('d'), true);
  });

  it('does not grow when the same value is added again', () => {
    const set = new LruCache<true>({ capacity: 2 });
    set.set('a', true);
    set.set('a', true);
    set.set('b', true);
    assert.equal(set.size, 2);
    assert.equal(set.has('a'), true);
  });

  it('rejects a capacity that cannot hold anything', () => {
    assert.throws(() => new LruCache<true>({ capacity: 0 }));
    assert.throws(() => new LruCache<true>({ capacity: 1.5 }));
  });
});

describe('LruCache values', () => {
  it('keeps the value with the key and evicts value and key together', () => {
    const cache = new LruCache<number>({ capacity: 2 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.set('c', 4); // evicts b, the least recently used
    assert.equal(cache.get('a'), 3);
    assert.equal(cache.get('b'), undefined);
    cache.delete('a');
    assert.equal(cache.size, 1);
  });
});
