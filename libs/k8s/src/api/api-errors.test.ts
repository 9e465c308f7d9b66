import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describeError, isConflict, isNotFound, messageOf, statusCodeOf } from './api-errors';

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('api-errors', () => {
  it('an API server that cannot be reached is described with the reason, not only "fetch failed"', async () => {
    const port = await closedPort();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const err = await kc.makeApiClient(CoreV1Api).listNamespace().then(
      () => assert.fail('listed namespaces on a closed port'),
      (e: unknown) => e,
    );
    assert.equal(statusCodeOf(err), undefined, 'no HTTP status: nothing answered');
    assert.match(describeError(err), new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  });

  it("an ApiException is its HTTP status and the Status body's message", () => {
    const body = JSON.stringify({ kind: 'Status', code: 409, reason: 'AlreadyExists', message: 'services "web" already exists' });
    const err = new ApiException(409, 'Conflict', body, {});
    assert.equal(isConflict(err), true);
    assert.equal(isNotFound(err), false);
    assert.equal(describeError(err), 'HTTP 409: services "web" already exists');
  });

  it('messageOf follows causes (an empty AggregateError by its first error) and says each line once', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:6443'), { code: 'ECONNREFUSED' });
    const err = new TypeError('fetch failed', { cause: new AggregateError([refused], '') });
    assert.equal(messageOf(err), 'fetch failed: connect ECONNREFUSED ::1:6443');
    assert.equal(messageOf(new Error('same', { cause: new Error('same') })), 'same');
    assert.equal(messageOf('plain'), 'plain');
  });
});
