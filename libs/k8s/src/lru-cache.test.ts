import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecentSet } from './recent-set';

describe('RecentSet', () => {
  it('remembers up to its capacity and forgets the least recently used', () => {
    const set = new RecentSet({ capacity: 3 });
    set.add('a');
    set.add('b');
    set.add('c');
    assert.equal(set.has('a'), true); // a is now the youngest
    set.add('d'); // evicts b
    assert.equal(set.size, 3);
    assert.equal(set.has('b'), false);
    assert.equal(set.has('a'), true);
    assert.equal(set.has('c'), true);
    assert.equal(set.has('d'), true);
  });

  it('does not grow when the same value is added again', () => {
    const set = new RecentSet({ capacity: 2 });
    set.add('a');
    set.add('a');
    set.add('b');
    assert.equal(set.size, 2);
    assert.equal(set.has('a'), true);
  });

  it('rejects a capacity that cannot hold anything', () => {
    assert.throws(() => new RecentSet({ capacity: 0 }));
    assert.throws(() => new RecentSet({ capacity: 1.5 }));
  });
});
