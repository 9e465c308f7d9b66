import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictRetry } from './conflict-retry';

describe('ConflictRetry', () => {
  it('waits 5 s, then twice as long each time, never more than a minute; per key; cleared starts over', () => {
    const retry = new ConflictRetry();
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => retry.next('ns/a')), [5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    assert.equal(retry.next('ns/b'), 5_000);
    retry.clear('ns/a');
    assert.equal(retry.next('ns/a'), 5_000);
  });
});
