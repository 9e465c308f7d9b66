// The decision logic of secure /metrics; the real TokenReview and
// SubjectAccessReview are exercised against a kube-apiserver in
// apps/ekspose-e2e/src/manifests.test.ts. Here the two questions are a table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ManualClock } from '../base/manual-clock';
import { type AccessReviews, MetricsAuthorizer, type ReviewedUser } from './metrics-auth';

const log = pino({ level: 'silent' });

/** Tokens the "API server" knows, who may get what, and a log of the questions asked. */
function reviews(users: Record<string, ReviewedUser>, allowed: Set<string>, calls: string[], failing = { on: false }): AccessReviews {
  return {
    async authenticate(token) {
      calls.push(`tokenreview ${token}`);
      if (failing.on) throw new Error('connect ECONNREFUSED');
      return users[token];
    },
    async authorize(user, path, verb) {
      calls.push(`sar ${user.username} ${verb} ${path}`);
      return allowed.has(user.username);
    },
  };
}

describe('MetricsAuthorizer', () => {
  const users = { good: { username: 'system:serviceaccount:monitoring:prometheus' }, other: { username: 'system:serviceaccount:x:y' } };
  const allowed = new Set(['system:serviceaccount:monitoring:prometheus']);

  it('401 without a bearer token or for a token the API server rejects, 403 when not allowed, 200 when allowed', async () => {
    const calls: string[] = [];
    const auth = new MetricsAuthorizer({ reviews: reviews(users, allowed, calls), log });
    assert.equal((await auth.decide(undefined, '/metrics')).status, 401);
    assert.equal((await auth.decide('Basic abc', '/metrics')).status, 401);
    assert.equal(calls.length, 0, 'no API call without a bearer token');
    assert.equal((await auth.decide('Bearer unknown', '/metrics')).status, 401);
    const forbidden = await auth.decide('Bearer other', '/metrics');
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.status === 403 ? forbidden.reason : '', /ekspose-metrics-reader/);
    assert.deepEqual(await auth.decide('Bearer good', '/metrics'), { status: 200, user: 'system:serviceaccount:monitoring:prometheus' });
    assert.deepEqual(calls.slice(-2), ['tokenreview good', 'sar system:serviceaccount:monitoring:prometheus get /metrics']);
  });

  it('remembers an allowed token for a minute and a refused one for 10 s, then asks again', async () => {
    const calls: string[] = [];
    const clock = new ManualClock();
    const auth = new MetricsAuthorizer({ reviews: reviews(users, allowed, calls), log, clock });
    await auth.decide('Bearer good', '/metrics');
    await auth.decide('Bearer other', '/metrics');
    const asked = calls.length;
    clock.advance(9_000);
    await auth.decide('Bearer good', '/metrics');
    await auth.decide('Bearer other', '/metrics');
    assert.equal(calls.length, asked, 'both answered from the cache');
    clock.advance(2_000);
    await auth.decide('Bearer other', '/metrics');
    assert.equal(calls.length, asked + 2, 'the refusal expired');
    await auth.decide('Bearer good', '/metrics');
    assert.equal(calls.length, asked + 2, 'the allowance has not');
    clock.advance(50_000);
    await auth.decide('Bearer good', '/metrics');
    assert.equal(calls.length, asked + 4, 'the allowance expired');
  });

  it('an API server that cannot be asked is a 500, not cached, and never a 200', async () => {
    const calls: string[] = [];
    const failing = { on: true };
    const auth = new MetricsAuthorizer({ reviews: reviews(users, allowed, calls, failing), log });
    const decision = await auth.decide('Bearer good', '/metrics');
    assert.equal(decision.status, 500);
    assert.match(decision.status === 500 ? decision.reason : '', /ECONNREFUSED/);
    failing.on = false;
    assert.equal((await auth.decide('Bearer good', '/metrics')).status, 200);
  });
});
