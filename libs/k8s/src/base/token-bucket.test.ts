import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('gives the burst at once, then reserves one token per 1/qps, each later than the last', () => {
    const bucket = new TokenBucket({ qps: 10, burst: 3, now: 0 });
    assert.deepEqual([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)], [0, 0, 0]);
    assert.equal(bucket.reserve(0), 100, 'the 4th token is due at 100 ms');
    assert.equal(bucket.reserve(60), 140, 'the 5th at 200 ms: 140 ms after t=60');
    assert.equal(bucket.reserve(300), 0, 'by 300 ms the debt is paid and one token saved');
    assert.equal(bucket.reserve(300), 100);
  });

  it('does not save more than the burst while idle', () => {
    const bucket = new TokenBucket({ qps: 10, burst: 2, now: 0 });
    bucket.reserve(0);
    bucket.reserve(0);
    const waits = [bucket.reserve(60_000), bucket.reserve(60_000), bucket.reserve(60_000)];
    assert.deepEqual(waits, [0, 0, 100]);
  });

  it('take() takes a token when there is one, else takes nothing and says when one will be', () => {
    const bucket = new TokenBucket({ qps: 4, burst: 2, now: 0 });
    assert.deepEqual([bucket.take(0), bucket.take(0)], [0, 0]);
    assert.equal(bucket.take(0), 250, 'empty: the next token in 1/qps');
    assert.equal(bucket.take(0), 250, 'asking again took nothing: still 250 ms away');
    assert.equal(bucket.take(100), 150);
    assert.equal(bucket.take(250), 0);
    assert.equal(bucket.take(250), 250);
  });

  it('refuses a rate or burst that would never give a token', () => {
    assert.throws(() => new TokenBucket({ qps: 0, burst: 1, now: 0 }), /qps must be > 0/);
    assert.throws(() => new TokenBucket({ qps: 1, burst: 0, now: 0 }), /burst >= 1/);
  });
});
