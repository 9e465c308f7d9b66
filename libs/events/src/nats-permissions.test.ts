// The NATS authorization the manifests ship (manifests/nats/auth.conf), enforced
// by a real nats-server: each controller connects as its own user and may do
// what it needs and nothing more. A controller that lacked a permission would
// also fail the integration suite, which runs every controller under this file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { NatsServer, type NatsUser } from '@ekspose/testing';
import { EventBus } from './event-bus';
import { STREAM_NAME, subjectFor } from './subjects';
import type { EventKind } from './subjects';

const quiet = pino({ level: 'silent' });
let server: NatsServer;
const buses: EventBus[] = [];
const connections: NatsConnection[] = [];

async function busAs(user: NatsUser, opts: { manageStream?: boolean } = {}): Promise<EventBus> {
  const bus = new EventBus({ servers: server.url, name: `test-${user}`, ...server.credentials(user), log: quiet, registry: new Registry(), ...opts });
  buses.push(bus);
  bus.start();
  const deadline = Date.now() + 10_000;
  while (!bus.connected) {
    if (Date.now() > deadline) assert.fail(`${user} never connected: ${JSON.stringify(bus.status())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return bus;
}

async function connectAs(user: NatsUser): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, ...server.credentials(user), timeout: 3000 });
  connections.push(nc);
  return nc;
}

/** Messages the stream holds on one subject, read as admin. */
async function storedOn(subject: string): Promise<number> {
  const jsm = await jetstreamManager(await connectAs('admin'));
  const info = await jsm.streams.info(STREAM_NAME, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

const event = { namespace: 'shop', name: 'web' };
const uid = '0b7c2a5e-9d43-4f7e-8f0e-2d9b1c6a7e10';
const other = '5d1e6f0a-3b2c-4d8e-9f7a-1c2b3d4e5f60';
const at = () => new Date().toISOString();
/** A valid payload of each kind. */
const payloads: { [K in EventKind]: () => Record<string, unknown> } = {
  'deployment.deleted': () => ({ ...event, uid, deletedAt: at() }),
  'deployment.exposed': () => ({ ...event, uid, service: { name: 'web', port: 80 }, ingress: null, at: at() }),
  'service.recreated': () => ({ ...event, deploymentUid: uid, serviceUid: other, at: at() }),
  'ingress.recreated': () => ({ ...event, deploymentUid: uid, ingressUid: other, host: 'web.shop.test', at: at() }),
  'httproute.recreated': () => ({ ...event, deploymentUid: uid, httprouteUid: other, host: 'web.shop.test', at: at() }),
};

/**
 * A refused publish gets no ack and ends at the timeout, so that one is short; an allowed one
 * is given the time a busy machine may take to store and ack it (it returns as soon as it has).
 */
async function publishAs(bus: EventBus, kind: EventKind, allowed: boolean) {
  // The schemas are typed per kind; the test table covers every kind at once.
  return bus.publish(kind, payloads[kind]() as never, { timeoutMs: allowed ? 30_000 : 1500 });
}

before(async () => {
  server = await NatsServer.start({ auth: true });
  // The deployment-controller creates the stream, as in a cluster.
  await busAs('deployment-controller');
});

after(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  await server.dispose();
});

describe('NATS authorization (manifests/nats/auth.conf on a real nats-server)', () => {
  it('refuses a connection without a user, and a wrong password', async () => {
    await assert.rejects(connect({ servers: server.url, timeout: 3000 }), /authorization violation/i);
    await assert.rejects(connect({ servers: server.url, user: 'deployment-controller', pass: 'guess', timeout: 3000 }), /authorization violation/i);
  });

  const own: Record<Exclude<NatsUser, 'admin'>, EventKind[]> = {
    'deployment-controller': ['deployment.deleted', 'deployment.exposed'],
    'service-controller': ['service.recreated'],
    'ingress-controller': ['ingress.recreated', 'httproute.recreated'],
  };
  for (const [user, kinds] of Object.entries(own) as Array<[Exclude<NatsUser, 'admin'>, EventKind[]]>) {
    it(`${user} publishes its own events and no other kind: the server refuses, nothing is stored`, async () => {
      const bus = await busAs(user, { manageStream: user === 'deployment-controller' });
      for (const kind of Object.keys(payloads) as EventKind[]) {
        const subject = subjectFor(kind, event.namespace, event.name);
        const before = await storedOn(subject);
        const result = await publishAs(bus, kind, kinds.includes(kind));
        if (kinds.includes(kind)) {
          assert.equal(result.ok, true, `${user} publishes ${kind}: ${JSON.stringify(result)}`);
          assert.equal(await storedOn(subject), before + 1, `${kind} stored`);
        } else {
          assert.equal(result.ok, false, `${user} must not publish ${kind}`);
          assert.equal(await storedOn(subject), before, `${kind} from ${user} not stored`);
        }
      }
    });
  }

  it('a forged deployment.deleted from the service-controller is refused with a permissions violation', async () => {
    const nc = await connectAs('service-controller');
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    const subject = subjectFor('deployment.deleted', 'shop', 'forged');
    await assert.rejects(jetstream(nc, { timeout: 1500 }).publish(subject, JSON.stringify({ ...payloads['deployment.deleted'](), name: 'forged' })));
    const deadline = Date.now() + 3000;
    while (!errors.some((e) => /permissions violation for publish/i.test(e)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      errors.some((e) => /permissions violation for publish/i.test(e) && e.includes('deployment.deleted')),
      `errors: ${errors.join('; ')}`,
    );
    assert.equal(await storedOn(subject), 0);
  });

  it('no controller may purge or delete the stream, or delete a record; only the deployment-controller may update it', async () => {
    for (const user of ['deployment-controller', 'service-controller', 'ingress-controller'] as const) {
      const jsm = await jetstreamManager(await connectAs(user), { timeout: 1500, checkAPI: false });
      const before = (await jsm.streams.info(STREAM_NAME)).state.messages;
      await assert.rejects(jsm.streams.purge(STREAM_NAME), `${user} purge`);
      await assert.rejects(jsm.streams.deleteMessage(STREAM_NAME, 1), `${user} delete message`);
      await assert.rejects(jsm.streams.delete(STREAM_NAME), `${user} delete stream`);
      const info = await jsm.streams.info(STREAM_NAME);
      assert.equal(info.state.messages, before, `${user} left the records in place`);
      const update = jsm.streams.update(STREAM_NAME, { max_age: info.config.max_age + 1_000_000_000 });
      if (user === 'deployment-controller') await update;
      else await assert.rejects(update, `${user} update`);
    }
  });

  it("each recreation controller consumes deployment.deleted through its own durable consumer, not the other's", async () => {
    const heard: string[] = [];
    const svc = await busAs('service-controller', { manageStream: false });
    svc.consume('deployment.deleted', 'service-controller', async (e) => {
      heard.push(e.name);
    });
    // The consumer delivers what is published after it exists.
    const jsm = await jetstreamManager(await connectAs('service-controller'), { timeout: 1500, checkAPI: false });
    const ready = Date.now() + 10_000;
    while (!(await jsm.consumers.info(STREAM_NAME, 'service-controller').then(() => true, () => false))) {
      if (Date.now() > ready) assert.fail('the service-controller never made its consumer');
      await new Promise((r) => setTimeout(r, 50));
    }
    const dc = await busAs('deployment-controller');
    const published = await dc.publish('deployment.deleted', { ...payloads['deployment.deleted'](), name: 'heard', uid: other } as never);
    assert.ok(published.ok && !published.duplicate, `stored as a new record: ${JSON.stringify(published)}`);
    const deadline = Date.now() + 10_000;
    while (!heard.includes('heard') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(heard.includes('heard'), 'the service-controller received the deletion');

    await assert.rejects(jsm.consumers.add(STREAM_NAME, { durable_name: 'ingress-controller', filter_subject: 'ekspose.v1.deployment.deleted.>' }));
    await assert.rejects(jsm.consumers.info(STREAM_NAME, 'ingress-controller'));
  });
});
