// The link's state through a lame-duck move on real nats-servers, with the
// race made certain: the old connection is dropped by its server while the
// new one is being set up. The link must be up exactly when the connection
// in use is connected.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { realClock } from '@ekspose/k8s';
import { NatsServer } from '@ekspose/testing';
import { NatsLink } from './nats-link';

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(20);
  }
}

it('the old connection dropped while the move off a lame-duck server is set up: the link is up on the new one', { timeout: 120_000 }, async (t) => {
  // Two separate servers: the first connection knows only the one that goes lame-duck (so it
  // cannot reconnect elsewhere and hide the race), the move connects to the other.
  const [duck, other] = await Promise.all([
    NatsServer.start({ name: 'duck', lameDuck: { gracePeriodSeconds: 1, durationSeconds: 30 } }),
    NatsServer.start({ name: 'other' }),
  ]);
  t.after(() => Promise.all([duck.dispose(), other.dispose()]));

  const states: boolean[] = [];
  let calls = 0;
  let dropped!: () => void;
  const oldDropped = { promise: new Promise<void>((resolve) => (dropped = resolve)), resolve: () => dropped() };
  const link = new NatsLink({
    servers: [duck.url, other.url],
    name: 'nats-link-test',
    manageStream: true,
    log: pino({ level: 'silent' }),
    clock: realClock,
    maxAgeSeconds: 3600,
    streamReplicas: 1,
    reconnectWaitMs: 60_000,
    connectTimeoutMs: 5000,
    onStateChange: (connected) => {
      states.push(connected);
      if (!connected && calls === 2) oldDropped.resolve();
    },
    connect: async (opts) => {
      calls++;
      if (calls === 1) return connect({ ...opts, servers: [duck.url] });
      // The move: held until the lame-duck server has closed the old connection.
      await oldDropped.promise;
      return connect({ ...opts, servers: [other.url] });
    },
  });
  t.after(() => link.close());
  link.start();
  await waitFor('the link up on the first server', () => link.connected);
  assert.equal(link.status().server, duck.url.replace('nats://', ''));

  await duck.enterLameDuck();
  await oldDropped.promise;
  assert.equal(link.connected, false, 'down while the old connection is dropped and the new one not in use yet');
  await waitFor('the link up on the new connection', () => link.connected, 15_000);
  assert.equal(link.status().server, other.url.replace('nats://', ''));
  assert.ok(link.connection, 'a connection to publish on');
  assert.equal(states.at(-1), true, 'the last state told is up');
  assert.equal(link.status().lastError, undefined, 'no stale error from the old connection');
});
