// The event bus through a NATS roll, on a real 3-node JetStream cluster on
// loopback: the server it is connected to enters lame-duck mode, as the
// StatefulSet's preStop hook makes it (`nats-server --signal ldm`), while
// publishes keep coming. The bus moves to another server before the old one
// closes it: every publish is acked, none fails or finds the bus away.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { NatsServer, freePorts } from '@ekspose/testing';
import { EventBus, type PublishResult } from './event-bus';

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(20);
  }
}

async function counter(registry: Registry, result: string): Promise<number> {
  const values = (await registry.getSingleMetric('ekspose_nats_publishes_total')?.get())?.values ?? [];
  return values.filter((v) => v.labels['result'] === result).reduce((sum, v) => sum + v.value, 0);
}

it('a server entering lame-duck mode: the bus moves to another before it closes, and every publish meanwhile is acked', { timeout: 240_000 }, async (t) => {
  const routePorts = await freePorts(3);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`);
  const nodes = await Promise.all(
    routePorts.map((port, i) =>
      NatsServer.create({ name: `ldm-${i}`, cluster: { name: 'ldm', port, routes: routes.filter((_, j) => j !== i) }, lameDuck: { gracePeriodSeconds: 1, durationSeconds: 30 }, timeoutMs: 60_000 }),
    ),
  );
  t.after(() => Promise.all(nodes.map((n) => n.dispose())));
  for (const n of nodes) n.launch();
  await Promise.all(nodes.map((n) => n.healthy()));

  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)), done()) });
  const registry = new Registry();
  const bus = new EventBus({ name: 'ldm-test', servers: nodes.map((n) => n.url).join(','), log: pino({ level: 'info' }, sink), registry, manageStream: true, streamReplicas: 3, reconnectWaitMs: 100 });
  t.after(() => bus.close());
  bus.start();
  await waitFor('the bus connected with the stream in place', () => bus.connected);
  const first = bus.status().server ?? '';
  const node = nodes.find((n) => n.url.endsWith(first));
  assert.ok(node, `the bus is on one of the nodes (${first})`);

  let stop = false;
  const results: PublishResult[] = [];
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      const at = new Date().toISOString();
      results.push(await bus.publish('deployment.deleted', { uid: `uid-${i}`, namespace: 'team-a', name: `web-${i}`, deletedAt: at }, { timeoutMs: 30_000 }));
      await sleep(10);
    }
  })();
  await waitFor('publishes under way', () => results.length >= 20);
  const entered = await node.enterLameDuck();
  assert.match(entered, /Entering lame duck mode/);
  // The server moves its clients and ends by itself (the preStop hook waits for exactly that).
  assert.deepEqual(await node.process!.waitForExit(60_000), { code: 0, signal: null });
  const afterExit = results.length;
  await waitFor('publishes after the server ended', () => results.length >= afterExit + 20);
  stop = true;
  await publishing;

  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} publishes failed`);
  assert.equal(await counter(registry, 'error'), 0);
  assert.equal(await counter(registry, 'unavailable'), 0);
  assert.notEqual(bus.status().server, first, 'on another server now');
  assert.ok(lines.some((l) => l.includes('moved to another NATS server before the lame-duck one closes')), 'it moved, not reconnected after a drop');
  t.diagnostic(`${results.length} publishes, all acked; moved from ${first} to ${bus.status().server}`);
});
