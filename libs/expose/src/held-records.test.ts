import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { EventInput, EventKind, PublishResult } from '@ekspose/events';
import { ManualClock } from '@ekspose/k8s/manual-clock';
import { HeldRecords } from './held-records';

/** The work queue's busy signal, switched by the test. */
class Queue {
  busy = false;
  private readonly listeners: Array<(busy: boolean) => void> = [];
  onBusyChange(listener: (busy: boolean) => void): void {
    this.listeners.push(listener);
  }
  set(busy: boolean): void {
    this.busy = busy;
    for (const l of this.listeners) l(busy);
  }
}

/** The event bus: what was published, in order, each acked with its sequence number. */
class Bus {
  readonly published: Array<{ kind: EventKind; name: string; at: string }> = [];
  closedAfter: number | undefined;
  publish = async <K extends EventKind>(kind: K, input: EventInput<K>): Promise<PublishResult> => {
    const p = input as unknown as { name: string; at?: string; deletedAt?: string };
    this.published.push({ kind, name: p.name, at: p.at ?? p.deletedAt ?? '' });
    return { ok: true, seq: this.published.length, duplicate: false };
  };
  wasDeploymentDeleted = async () => 'not-deleted' as const;
  wasExposed = async () => 'exposed' as const;
  status = () => ({ connected: true });
  close = async () => void (this.closedAfter = this.published.length);
}

const exposed = (name: string, at = '2026-12-07T00:00:00.000Z'): EventInput<'deployment.exposed'> => ({
  uid: `uid-${name}`,
  namespace: 'shop',
  name,
  service: { name, port: 80 },
  ingress: null,
  httproute: null,
  at,
});

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(pacing: { quietMs?: number; qps?: number; burst?: number; overdueMs?: number; busyQps?: number } = {}) {
  const clock = new ManualClock({ start: Date.parse('2026-12-07T00:00:00Z') });
  const queue = new Queue();
  const bus = new Bus();
  const records = new HeldRecords({ bus, yieldTo: queue, log: pino({ level: 'silent' }), clock, pacing: { quietMs: 500, qps: 100, burst: 10, overdueMs: 60_000, busyQps: 1, ...pacing } });
  return { clock, queue, bus, records };
}

describe('HeldRecords: deployment.exposed records yield to the work queue', () => {
  it('held while the queue has work, published once it has been quiet for quietMs; publish() answers with the ack', async () => {
    const t = setup();
    t.queue.set(true);
    const answers = ['a', 'b', 'c'].map((n) => t.records.publish('deployment.exposed', exposed(n)));
    await flush();
    assert.equal(t.bus.published.length, 0, 'nothing goes while the queue is busy');
    assert.equal(t.records.size, 3);
    t.queue.set(false);
    await t.clock.advanceAsync(499);
    assert.equal(t.bus.published.length, 0, 'not before the queue has been quiet for 500 ms');
    await t.clock.advanceAsync(1);
    await flush();
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a', 'b', 'c'], 'in the order they were held');
    assert.deepEqual(await Promise.all(answers), [1, 2, 3].map((seq) => ({ ok: true, seq, duplicate: false })));
    assert.equal(t.records.size, 0);
  });

  it("one record per Deployment: a newer one takes the older one's place (and its place in line), and answers both", async () => {
    const t = setup();
    t.queue.set(true);
    const first = t.records.publish('deployment.exposed', exposed('a', '2026-12-07T00:00:01.000Z'));
    void t.records.publish('deployment.exposed', exposed('b'));
    const second = t.records.publish('deployment.exposed', exposed('a', '2026-12-07T00:00:02.000Z'));
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    await flush();
    assert.deepEqual(t.bus.published, [
      { kind: 'deployment.exposed', name: 'a', at: '2026-12-07T00:00:02.000Z' },
      { kind: 'deployment.exposed', name: 'b', at: '2026-12-07T00:00:00.000Z' },
    ]);
    assert.deepEqual(await first, await second);
  });

  it('deployment.deleted is never held: it goes at once, in the middle of a burst', async () => {
    const t = setup();
    t.queue.set(true);
    void t.records.publish('deployment.exposed', exposed('a'));
    const deleted = await t.records.publish('deployment.deleted', { uid: 'uid-x', namespace: 'shop', name: 'x', deletedAt: '2026-12-07T00:00:00.000Z' });
    assert.deepEqual(deleted, { ok: true, seq: 1, duplicate: false });
    assert.deepEqual(t.bus.published.map((p) => `${p.kind} ${p.name}`), ['deployment.deleted x']);
  });

  it('stops the moment the queue has work again, and goes on, paced, when it is quiet', async () => {
    const t = setup({ qps: 10, burst: 2 });
    t.queue.set(true);
    for (const n of ['a', 'b', 'c', 'd']) void t.records.publish('deployment.exposed', exposed(n));
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    await flush();
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a', 'b'], 'the burst of the token bucket');
    t.queue.set(true);
    await t.clock.advanceAsync(10_000);
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a', 'b'], 'a new burst: held again');
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    await flush();
    await t.clock.advanceAsync(100);
    await flush();
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a', 'b', 'c', 'd']);
  });

  it('a queue that never idles still publishes: one held past overdueMs goes, at busyQps', async () => {
    const t = setup({ overdueMs: 60_000, busyQps: 1 });
    t.queue.set(true);
    for (const n of ['a', 'b']) void t.records.publish('deployment.exposed', exposed(n));
    await t.clock.advanceAsync(59_999);
    assert.equal(t.bus.published.length, 0);
    await t.clock.advanceAsync(1);
    await flush();
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a']);
    await t.clock.advanceAsync(1_000);
    await flush();
    assert.deepEqual(t.bus.published.map((p) => p.name), ['a', 'b']);
  });

  it('close() (shutdown) publishes every record still held, then closes the bus; none is lost', async () => {
    const t = setup();
    t.queue.set(true);
    for (let i = 0; i < 40; i++) void t.records.publish('deployment.exposed', exposed(`d${i}`));
    await t.records.close();
    assert.equal(t.bus.published.length, 40);
    assert.equal(t.bus.closedAfter, 40, 'the bus closed after the last of them');
    const late = await t.records.publish('deployment.exposed', exposed('late'));
    assert.equal(late.ok, true, 'after close, a record is not held (the bus answers for it)');
  });

  it('close() waits for the publishes already going, and gives up at its bound: the rest are answered as not published, then the bus closes', async () => {
    const t = setup({ qps: 1_000, burst: 1_000 });
    const hanging: Array<() => void> = [];
    let calls = 0;
    t.bus.publish = async () => {
      calls++;
      // NATS slow to ack: the first 16 (those going when shutdown starts) answer late, the rest never.
      if (calls <= 16) await new Promise<void>((resolve) => hanging.push(resolve));
      else await new Promise(() => undefined);
      return { ok: true, seq: calls, duplicate: false };
    };
    t.queue.set(true);
    const answers = Array.from({ length: 40 }, (_, i) => t.records.publish('deployment.exposed', exposed(`d${i}`)));
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    await flush();
    assert.equal(calls, 16, '16 going (inFlight) when shutdown starts');
    const closing = t.records.close();
    await flush();
    assert.equal(t.bus.closedAfter, undefined, 'the bus is not closed while those 16 are going');
    for (const answer of hanging.splice(0)) answer();
    await flush();
    await t.clock.advanceAsync(1_000);
    await closing;
    assert.notEqual(t.bus.closedAfter, undefined, 'then, at the bound, the bus closes');
    const settled = await Promise.all(answers.slice(0, 16));
    assert.ok(settled.every((r) => r.ok), 'the 16 that were going got their acks');
    const unsent = await Promise.race([Promise.all(answers.slice(32)), new Promise((resolve) => setTimeout(() => resolve('pending'), 50))]);
    assert.deepEqual(unsent, Array(8).fill({ ok: false, error: 'shut down before it was published' }), 'never sent: answered, not left pending');
  });
});
