import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS_GRACE_MS, StatusGrace, withRecheck } from './status-grace';

describe('StatusGrace', () => {
  it('a problem waits out the grace, then is told; the recheck comes when the grace ends', () => {
    const grace = new StatusGrace();
    assert.deepEqual(grace.judge('shop/web', 'HTTPRoute', true, 1000), { kind: 'wait', delayMs: STATUS_GRACE_MS });
    assert.equal(grace.recheckIn('shop/web', 1000), STATUS_GRACE_MS);
    assert.deepEqual(grace.judge('shop/web', 'HTTPRoute', true, 4000), { kind: 'wait', delayMs: STATUS_GRACE_MS - 3000 });
    assert.equal(grace.recheckIn('shop/web', 4000), STATUS_GRACE_MS - 3000);
    assert.deepEqual(grace.judge('shop/web', 'HTTPRoute', true, 1000 + STATUS_GRACE_MS), { kind: 'tell' });
    assert.equal(grace.recheckIn('shop/web', 1000 + STATUS_GRACE_MS), undefined, 'nothing left to wait for');
  });

  it('a problem gone within the grace is never told, and leaves nothing behind', () => {
    const grace = new StatusGrace();
    grace.judge('shop/web', 'HTTPRoute', true, 0);
    assert.deepEqual(grace.judge('shop/web', 'HTTPRoute', false, 900), { kind: 'fine' });
    assert.equal(grace.recheckIn('shop/web', 900), undefined);
    assert.equal(grace.size, 0);
    // Back later: a new grace from then.
    assert.deepEqual(grace.judge('shop/web', 'HTTPRoute', true, 50_000), { kind: 'wait', delayMs: STATUS_GRACE_MS });
  });

  it('keys and topics are apart; forget drops a Deployment', () => {
    const grace = new StatusGrace(5000);
    grace.judge('shop/a', 'HTTPRoute', true, 0);
    grace.judge('shop/b', 'HTTPRoute', true, 2000);
    assert.equal(grace.recheckIn('shop/a', 3000), 2000);
    assert.equal(grace.recheckIn('shop/b', 3000), 4000);
    grace.forget('shop/a');
    assert.equal(grace.recheckIn('shop/a', 3000), undefined);
    grace.forget('shop/b', 'HTTPRoute');
    assert.equal(grace.size, 0);
  });
});

describe('withRecheck', () => {
  it('done becomes a requeue at the recheck; a sooner requeue stays; errors pass', () => {
    assert.deepEqual(withRecheck({ kind: 'done' }, undefined), { kind: 'done' });
    assert.deepEqual(withRecheck({ kind: 'done' }, 7000), { kind: 'requeueAfter', delayMs: 7000 });
    assert.deepEqual(withRecheck({ kind: 'requeueAfter', delayMs: 5000 }, 7000), { kind: 'requeueAfter', delayMs: 5000 });
    assert.deepEqual(withRecheck({ kind: 'requeueAfter', delayMs: 60_000 }, 7000), { kind: 'requeueAfter', delayMs: 7000 });
    const terminal = { kind: 'terminal' as const, error: new Error('x') };
    assert.equal(withRecheck(terminal, 7000), terminal);
  });
});
