// EventBus against a real nats-server (started per test on a free loopback
// port with its own JetStream store). Nothing here fakes NATS.
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EventBus } from './event-bus';
import type { EventBusOptions } from './event-bus';
import { InvalidEventError } from './schemas';
import type { DeploymentDeleted } from './schemas';
import { STREAM_NAME, subjectFor } from './subjects';
import { ManualClock } from '@ekspose/k8s/manual-clock';
import { NatsServer } from '@ekspose/testing';

type LogLine = { level: number; msg: string; [key: string]: unknown };

function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** Bounded poll: resolves when `check` holds, fails the test after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = registry.getSingleMetric(name);
  if (!found) return Number.NaN;
  const { values } = await found.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return match?.value ?? 0;
}

/** Runs the registered clean-ups last-first after the test, pass or fail. */
function cleanups(t: TestContext): (fn: () => Promise<void> | void) => void {
  const stack: Array<() => Promise<void> | void> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => stack.push(fn);
}

async function startServer(t: TestContext, defer: (fn: () => Promise<void>) => void): Promise<NatsServer> {
  const server = await NatsServer.start();
  defer(() => server.dispose());
  t.diagnostic(`nats-server ${server.bin} on ${server.url}`);
  return server;
}

function makeBus(
  defer: (fn: () => Promise<void>) => void,
  options: Partial<EventBusOptions> & { servers: string },
): { bus: EventBus; registry: Registry; lines: LogLine[] } {
  const { log, lines } = captureLog();
  const registry = new Registry();
  const bus = new EventBus({ name: 'test', log, registry, reconnectWaitMs: 100, ...options });
  defer(() => bus.close());
  return { bus, registry, lines };
}

async function started(bus: EventBus): Promise<EventBus> {
  bus.start();
  await waitFor('the bus to connect', () => bus.connected);
  return bus;
}

const deletedAt = '2025-06-01T12:00:00.000Z';
function deletion(uid: string, namespace = 'team-a', name = 'web'): Omit<DeploymentDeleted, 'v'> {
  return { uid, namespace, name, deletedAt };
}

describe('EventBus with a real nats-server', () => {
  it('asked for 3 replicas by a server with no cluster: makes the stream with 1 and says why', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus, lines } = makeBus(defer, { servers: server.url, name: 'deployment-controller', streamReplicas: 3, manageStream: true });
    await started(bus);
    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const info = await (await jetstreamManager(nc)).streams.info(STREAM_NAME);
    assert.equal(info.config.num_replicas, 1);
    assert.ok(lines.some((l) => /NATS is not clustered/.test(l.msg)), 'the log says why');
    assert.equal((await bus.publish('deployment.deleted', deletion('uid-r'))).ok, true);
  });

  it('records deployment.deleted and answers the lookup by uid from the stream', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus: writer, registry } = makeBus(defer, { servers: server.url, name: 'deployment-controller' });
    await started(writer);
    // A second bus that never saw the publish: its answers can only come from NATS.
    const { bus: reader } = makeBus(defer, { servers: server.url, name: 'service-controller' });
    await started(reader);

    const first = await writer.publish('deployment.deleted', deletion('uid-1'));
    assert.equal(first.ok, true);
    assert.ok(first.ok && first.seq > 0 && !first.duplicate);

    assert.equal(await reader.wasDeploymentDeleted('team-a', 'web', 'uid-1'), 'deleted');
    assert.equal(await reader.wasDeploymentDeleted('team-a', 'web', 'uid-2'), 'not-deleted', 'same ns/name, other uid');
    assert.equal(await reader.wasDeploymentDeleted('team-a', 'other', 'uid-1'), 'not-deleted', 'other name');
    assert.equal(await reader.wasDeploymentDeleted('team-b', 'web', 'uid-1'), 'not-deleted', 'other namespace');

    // A record for an older uid published afterwards must not hide uid-1's.
    assert.equal((await writer.publish('deployment.deleted', deletion('uid-0'))).ok, true);
    const { bus: lateReader } = makeBus(defer, { servers: server.url });
    await started(lateReader);
    assert.equal(await lateReader.wasDeploymentDeleted('team-a', 'web', 'uid-1'), 'deleted');
    assert.equal(await lateReader.wasDeploymentDeleted('team-a', 'web', 'uid-0'), 'deleted');
    assert.equal(await lateReader.wasDeploymentDeleted('team-a', 'web', 'uid-9'), 'not-deleted');

    assert.equal(await metric(registry, 'ekspose_nats_publishes_total', { kind: 'deployment.deleted', result: 'ok' }), 2);
    assert.equal(await metric(registry, 'ekspose_nats_connected'), 1);
  });

  it('de-duplicates a repeated message id', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus, registry } = makeBus(defer, { servers: server.url });
    await started(bus);

    const first = await bus.publish('deployment.deleted', deletion('uid-1'));
    const again = await bus.publish('deployment.deleted', { ...deletion('uid-1'), deletedAt: '2025-06-01T12:00:05.000Z' });
    assert.deepEqual(again, { ok: true, seq: first.ok ? first.seq : -1, duplicate: true });
    // An explicit msgId on another kind dedupes the same way.
    const exposed = {
      uid: 'uid-1',
      namespace: 'team-a',
      name: 'web',
      service: { name: 'web', port: 80 },
      ingress: null,
      at: deletedAt,
    };
    assert.equal((await bus.publish('deployment.exposed', exposed, { msgId: 'exposed-1' })).ok, true);
    const repeat = await bus.publish('deployment.exposed', exposed, { msgId: 'exposed-1' });
    assert.ok(repeat.ok && repeat.duplicate);

    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const info = await (await jetstreamManager(nc)).streams.info(STREAM_NAME);
    assert.equal(info.state.messages, 2);
    assert.equal(await metric(registry, 'ekspose_nats_publishes_total', { kind: 'deployment.deleted', result: 'duplicate' }), 1);
  });

  it('throws on an invalid payload: a caller bug, not a NATS condition', async (t) => {
    const defer = cleanups(t);
    const { bus } = makeBus(defer, { servers: 'nats://127.0.0.1:1' });
    await assert.rejects(bus.publish('deployment.deleted', { ...deletion('uid-1'), namespace: 'Not_A_Label' }), InvalidEventError);
  });

  it('starts with NATS down, keeps trying on its clock, and works once NATS is up', async (t) => {
    const defer = cleanups(t);
    const server = await NatsServer.create(); // port reserved, nothing listening yet
    defer(() => server.dispose());
    const clock = new ManualClock();
    const { bus, registry, lines } = makeBus(defer, { servers: server.url, clock, reconnectWaitMs: 2000 });

    const before = Date.now();
    bus.start();
    assert.ok(Date.now() - before < 50, 'start() must not wait for NATS');
    await waitFor('the first connection attempt to fail', () => bus.status().lastError !== undefined);
    assert.match(bus.status().lastError ?? '', /cannot connect to NATS/);
    assert.equal(bus.connected, false);
    assert.equal(await metric(registry, 'ekspose_nats_connected'), 0);

    const publishStart = Date.now();
    // A timeout far beyond what any machine takes to return at once, so a busy one cannot blur the two.
    const result = await bus.publish('deployment.deleted', deletion('uid-1'), { timeoutMs: 60_000 });
    assert.equal(result.ok, false);
    assert.ok(Date.now() - publishStart < 30_000, 'a publish with NATS down returns at once, not after the timeout');
    assert.equal(await metric(registry, 'ekspose_nats_publishes_total', { kind: 'deployment.deleted', result: 'unavailable' }), 1);
    assert.equal(await bus.wasDeploymentDeleted('team-a', 'web', 'uid-1'), 'unknown');

    await server.start();
    // The retry waits on the injected clock: nothing happens until it moves.
    assert.equal(clock.pendingTimers, 1);
    assert.equal(bus.connected, false);
    clock.advance(2000);
    await waitFor('the bus to connect after the clock moved', () => bus.connected);
    assert.deepEqual(Object.keys(bus.status()).sort(), ['connected', 'server']);
    assert.equal(await metric(registry, 'ekspose_nats_connected'), 1);
    assert.equal((await bus.publish('deployment.deleted', deletion('uid-1'))).ok, true);
    // One warning for a NATS that stayed down, not one per attempt.
    assert.equal(lines.filter((l) => l.msg === 'NATS unavailable').length, 1);
  });

  it('survives NATS stopping and restarting, consumer included', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus: writer } = makeBus(defer, { servers: server.url, name: 'deployment-controller' });
    await started(writer);
    const { bus: reader, registry: readerRegistry } = makeBus(defer, { servers: server.url, name: 'service-controller' });
    const seen: string[] = [];
    reader.consume('deployment.deleted', 'service-controller', async (event) => {
      seen.push(event.uid);
    });
    await started(reader);

    assert.equal((await writer.publish('deployment.deleted', deletion('uid-1'))).ok, true);
    await waitFor('the consumer to receive uid-1', () => seen.includes('uid-1'));

    await server.stop();
    await waitFor('both buses to notice', () => !writer.connected && !reader.connected);
    assert.equal(await metric(readerRegistry, 'ekspose_nats_connected'), 0);
    assert.match(reader.status().lastError ?? '', /disconnected/);
    // Received through the consumer, so still known with NATS away; anything else is unknown.
    assert.equal(await reader.wasDeploymentDeleted('team-a', 'web', 'uid-1'), 'deleted');
    assert.equal(await reader.wasDeploymentDeleted('team-a', 'web', 'uid-2'), 'unknown');
    // Down for a moment only: the publish waits for the link within its timeout (a roll's blip), then says no.
    const publishStart = Date.now();
    const down = await writer.publish('deployment.deleted', deletion('uid-2'), { timeoutMs: 3000 });
    assert.equal(down.ok, false);
    assert.ok(Date.now() - publishStart < 20_000, 'bounded by its timeout');

    await server.start();
    await waitFor('both buses to reconnect', () => writer.connected && reader.connected, 30_000);
    assert.equal(reader.status().lastError, undefined);
    assert.equal(await reader.wasDeploymentDeleted('team-a', 'web', 'uid-2'), 'not-deleted');
    assert.equal((await writer.publish('deployment.deleted', deletion('uid-3'))).ok, true);
    await waitFor('the consumer to receive uid-3 after the restart', () => seen.includes('uid-3'), 30_000);
    assert.deepEqual(seen, ['uid-1', 'uid-3'], 'each event handled once');
  });

  it('sets stream and consumer up again when NATS comes back without its storage', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus: writer } = makeBus(defer, { servers: server.url });
    const { bus: reader } = makeBus(defer, { servers: server.url });
    const seen: string[] = [];
    reader.consume('deployment.deleted', 'wiped', async (event) => {
      seen.push(event.uid);
    });
    await started(writer);
    await started(reader);
    assert.equal((await writer.publish('deployment.deleted', deletion('before'))).ok, true);
    await waitFor('the first event', () => seen.length === 1);

    await server.stop();
    server.wipeStore();
    await server.start();
    await waitFor('both buses ready again', () => writer.connected && reader.connected, 30_000);
    // Publish until the re-created consumer hands an event over: the stream is
    // back at once, the consumer follows within a retry or two.
    let n = 0;
    await waitFor(
      'an event through the re-created consumer',
      async () => {
        if (seen.some((uid) => uid.startsWith('after-'))) return true;
        await writer.publish('deployment.deleted', deletion(`after-${n++}`, 'team-a', `web-${n}`));
        return false;
      },
      10_000,
    );
    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const info = await (await jetstreamManager(nc)).consumers.info(STREAM_NAME, 'wiped');
    assert.equal(info.config.filter_subject, 'ekspose.v1.deployment.deleted.>');
  });

  it('acks and counts malformed messages, and still handles the good one after them', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus, registry, lines } = makeBus(defer, { servers: server.url });
    const handled: Array<{ uid: string; subject: string }> = [];
    bus.consume('deployment.deleted', 'malformed-test', async (event, meta) => {
      handled.push({ uid: event.uid, subject: meta.subject });
    });
    await started(bus);

    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const js = (await jetstreamManager(nc)).jetstream();
    // Stored through JetStream so they are in the stream before the good one.
    await js.publish('ekspose.v1.deployment.deleted.x.y', 'garbage');
    await js.publish('ekspose.v1.deployment.deleted.x.y', JSON.stringify({ v: 1, uid: 'u', namespace: 'x', name: 'y' }));
    await js.publish('ekspose.v1.deployment.deleted.x', JSON.stringify(deletion('short-subject')));
    await js.publish(subjectFor('deployment.deleted', 'x', 'z'), JSON.stringify({ v: 1, ...deletion('mismatch', 'x', 'y') }));
    assert.equal((await bus.publish('deployment.deleted', deletion('good'))).ok, true);

    await waitFor('the good event', () => handled.length > 0);
    const jsm = await jetstreamManager(nc);
    await waitFor('nothing pending or unacked on the consumer', async () => {
      const info = await jsm.consumers.info(STREAM_NAME, 'malformed-test');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    const info = await jsm.consumers.info(STREAM_NAME, 'malformed-test');
    assert.equal(info.num_redelivered, 0, 'malformed messages are not redelivered');
    assert.equal(info.delivered.stream_seq, 5);
    assert.deepEqual(handled, [{ uid: 'good', subject: 'ekspose.v1.deployment.deleted.team-a.web' }]);
    assert.equal(await metric(registry, 'ekspose_nats_malformed_total', { kind: 'deployment.deleted' }), 4);
    const reasons = lines.filter((l) => l.msg === 'malformed event dropped').map((l) => String(l['reason']));
    assert.equal(reasons.length, 4);
    assert.match(reasons[0] ?? '', /not JSON/);
    assert.match(reasons[1] ?? '', /schema/);
    assert.match(reasons[2] ?? '', /unknown subject/);
    assert.match(reasons[3] ?? '', /names x\/y but the subject x\/z/);
  });

  it('redelivers after a handler error, and gives up after maxDeliver', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus, registry } = makeBus(defer, { servers: server.url, maxDeliver: 3, retryDelayMs: 20 });
    const attempts = new Map<string, number[]>();
    bus.consume('service.recreated', 'retry-test', async (event, meta) => {
      attempts.set(event.serviceUid, [...(attempts.get(event.serviceUid) ?? []), meta.deliveryCount]);
      if (event.serviceUid === 'flaky' && meta.deliveryCount < 2) throw new Error('transient');
      if (event.serviceUid === 'broken') throw new Error('always');
    });
    await started(bus);
    const recreated = (serviceUid: string) => ({ deploymentUid: 'd', namespace: 'ns', name: 'web', serviceUid, at: deletedAt });
    assert.equal((await bus.publish('service.recreated', recreated('flaky'))).ok, true);
    assert.equal((await bus.publish('service.recreated', recreated('broken'))).ok, true);

    await waitFor('both events settled', async () => {
      return (await metric(registry, 'ekspose_nats_consumed_total', { kind: 'service.recreated', result: 'gave_up' })) === 1 &&
        (await metric(registry, 'ekspose_nats_consumed_total', { kind: 'service.recreated', result: 'ok' })) === 1;
    });
    assert.deepEqual(attempts.get('flaky'), [1, 2]);
    assert.deepEqual(attempts.get('broken'), [1, 2, 3]);
    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const jsm = await jetstreamManager(nc);
    // The given-up message is terminated, not left pending for ack_wait redeliveries.
    await waitFor('no unacked message left', async () => (await jsm.consumers.info(STREAM_NAME, 'retry-test')).num_ack_pending === 0);
    assert.deepEqual(attempts.get('broken'), [1, 2, 3], 'no delivery after the last');
  });

  it('carries names with dots through subjects, consumers and lookups', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const { bus: writer } = makeBus(defer, { servers: server.url });
    const { bus: reader } = makeBus(defer, { servers: server.url });
    const received: Array<{ name: string; subject: string }> = [];
    reader.consume('deployment.deleted', 'dots', async (event, meta) => {
      received.push({ name: event.name, subject: meta.subject });
    });
    await started(writer);
    await started(reader);

    assert.equal((await writer.publish('deployment.deleted', deletion('uid-dots', 'team-b', 'api.v2.example'))).ok, true);
    assert.equal((await writer.publish('deployment.deleted', deletion('uid-plain', 'team-b', 'api'))).ok, true);
    await waitFor('both events', () => received.length === 2);
    assert.deepEqual(received[0], { name: 'api.v2.example', subject: 'ekspose.v1.deployment.deleted.team-b.api_2ev2_2eexample' });
    assert.equal(received[1]?.name, 'api');

    const { bus: fresh } = makeBus(defer, { servers: server.url });
    await started(fresh);
    assert.equal(await fresh.wasDeploymentDeleted('team-b', 'api.v2.example', 'uid-dots'), 'deleted');
    assert.equal(await fresh.wasDeploymentDeleted('team-b', 'api', 'uid-dots'), 'not-deleted', 'a prefix of the name is another subject');
    assert.equal(await fresh.wasDeploymentDeleted('team-b', 'api_2ev2_2eexample', 'uid-dots'), 'not-deleted');
  });

  it('sets the stream up idempotently and repairs drifted settings', async (t) => {
    const defer = cleanups(t);
    const server = await startServer(t, defer);
    const nc = await connect({ servers: server.url });
    defer(() => nc.close());
    const jsm = await jetstreamManager(nc);
    // A stream left by someone else without direct get and with another age.
    await jsm.streams.add({ name: STREAM_NAME, subjects: ['ekspose.v1.>'], max_age: 60 * 1_000_000_000 });

    const { bus: one, lines } = makeBus(defer, { servers: server.url, streamMaxAgeSeconds: 3600, manageStream: true });
    const { bus: two } = makeBus(defer, { servers: server.url, streamMaxAgeSeconds: 3600, manageStream: true });
    one.start();
    two.start();
    await waitFor('both buses ready', () => one.connected && two.connected);

    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    assert.deepEqual(names, [STREAM_NAME]);
    const { config } = await jsm.streams.info(STREAM_NAME);
    assert.equal(config.max_age, 3600 * 1_000_000_000);
    assert.equal(config.allow_direct, true);
    assert.ok(config.duplicate_window >= 120 * 1_000_000_000);
    assert.ok(lines.some((l) => l.msg === 'stream settings updated'));

    // A third bus finds everything in place and writes nothing.
    const { bus: three, lines: threeLines } = makeBus(defer, { servers: server.url, streamMaxAgeSeconds: 3600, manageStream: true });
    await started(three);
    assert.ok(!threeLines.some((l) => l.msg === 'stream settings updated' || l.msg === 'stream created'));

    // A bus that does not manage the stream (the default: a probe, a recreation controller) never changes it.
    await jsm.streams.update(STREAM_NAME, { max_age: 1800 * 1_000_000_000 });
    const { bus: reader, lines: readerLines } = makeBus(defer, { servers: server.url, streamMaxAgeSeconds: 3600 });
    await started(reader);
    assert.equal((await jsm.streams.info(STREAM_NAME)).config.max_age, 1800 * 1_000_000_000);
    assert.ok(readerLines.some((l) => /differ from ours/.test(l.msg)));
  });

  it('closes idempotently, whether it ever connected or not', async (t) => {
    const defer = cleanups(t);
    const clock = new ManualClock();
    const { bus: never } = makeBus(defer, { servers: 'nats://127.0.0.1:1', clock });
    await never.close();
    await never.close();

    const { bus: waiting } = makeBus(defer, { servers: 'nats://127.0.0.1:1', clock });
    waiting.consume('deployment.deleted', 'never-connects', async () => undefined);
    waiting.start();
    await waitFor('a failed attempt', () => waiting.status().lastError !== undefined);
    await Promise.all([waiting.close(), waiting.close()]);
    assert.equal(clock.pendingTimers, 0, 'close() cancels the retry timers');
    const after = await waiting.publish('deployment.deleted', deletion('uid-1'));
    assert.deepEqual(after, { ok: false, error: 'event bus is closed' });
    assert.throws(() => waiting.start(), /after close/);
  });
});
