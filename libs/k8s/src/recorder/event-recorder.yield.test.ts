// EventRecorder with yieldTo: Normal Events held while the work queue is busy,
// paced out once it is quiet, Warnings at once, nothing lost on shutdown. Time
// is a ManualClock; the API is FakeEventsServer (409, 404, series validated).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ManualClock } from '../base/manual-clock';
import { type BusySignal, type DropReason, type EventPacing, EventRecorder, eventName } from './event-recorder';
import { FakeEventsServer } from './fake-events-server.test-helper';

/** The work queue as the recorder sees it. */
class FakeQueue implements BusySignal {
  busy = false;
  private readonly listeners: Array<(busy: boolean) => void> = [];
  onBusyChange(listener: (busy: boolean) => void): void {
    this.listeners.push(listener);
  }
  set(busy: boolean): void {
    if (busy === this.busy) return;
    this.busy = busy;
    for (const l of this.listeners) l(busy);
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(pacing: Partial<EventPacing> = {}, opts: { maxInFlight?: number } = {}) {
  const clock = new ManualClock({ start: Date.UTC(2025, 4, 1, 12, 0, 0) });
  const server = new FakeEventsServer();
  const queue = new FakeQueue();
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const pending: number[] = [];
  const dropped: Array<[DropReason, number]> = [];
  const recorder = new EventRecorder({
    events: server.api,
    component: 'ekspose-deployment-controller',
    instance: 'pod-1',
    log,
    clock,
    yieldTo: queue,
    pacing: { quietMs: 500, qps: 10, burst: 2, overdueMs: 60_000, busyQps: 1, ...pacing },
    onPending: (n) => void pending.push(n),
    onDropped: (why, n) => void dropped.push([why, n]),
    ...opts,
  });
  return { clock, server, queue, logs, pending, dropped, recorder };
}

const dep = (i: number) => ({ name: `app-${i}`, namespace: 'shop', uid: `uid-${i}`, resourceVersion: '7' });
const notes = (server: FakeEventsServer) => server.events.map((e) => `${e.regarding?.name} ${e.type} ${e.reason}: ${e.note}`);

describe('EventRecorder yielding to the work queue', () => {
  it('holds Normal Events while the queue is busy and writes Warnings at once', async () => {
    const t = setup();
    t.queue.set(true);
    t.recorder.normal(dep(1), 'Exposed', 'reachable at http://app-1.shop.example');
    t.recorder.warning(dep(2), 'HostConflict', 'host taken');
    await t.clock.advanceAsync(30_000);
    assert.deepEqual(notes(t.server), ['app-2 Warning HostConflict: host taken']);
    assert.equal(t.recorder.heldCount, 1);
    assert.equal(t.recorder.pending, 1);
    assert.equal(t.pending.at(-1), 1, 'the pending gauge says one is held');
  });

  it('writes what it held once the queue has been quiet for quietMs, with the time it happened', async () => {
    const t = setup();
    t.queue.set(true);
    t.recorder.normal(dep(1), 'Exposed', 'reachable at http://app-1.shop.example');
    await t.clock.advanceAsync(5_000);
    t.queue.set(false);
    await t.clock.advanceAsync(499);
    assert.equal(t.server.events.length, 0, 'not yet: the burst may go on');
    t.queue.set(true);
    t.queue.set(false);
    await t.clock.advanceAsync(499);
    assert.equal(t.server.events.length, 0, 'the queue had work again: the quiet starts over');
    await t.clock.advanceAsync(1);
    assert.deepEqual(notes(t.server), ['app-1 Normal Exposed: reachable at http://app-1.shop.example']);
    assert.equal(t.server.events[0]?.eventTime, '2025-05-01T12:00:00.000000Z', 'when it happened, not when it was written');
    assert.equal(t.pending.at(-1), 0);
  });

  it('with a queue idle from the start a Normal Event waits the quiet time only', async () => {
    const t = setup();
    t.recorder.normal(dep(1), 'Exposed', 'x');
    await t.clock.advanceAsync(500);
    assert.equal(t.server.events.length, 1);
  });

  it('keeps one per Deployment and reason: a newer message replaces the older, a repeat becomes a series', async () => {
    const t = setup();
    t.queue.set(true);
    t.recorder.normal(dep(1), 'Exposed', 'reachable at http://old.example');
    t.clock.advance(1_000);
    t.recorder.normal(dep(1), 'Exposed', 'reachable at http://new.example');
    t.recorder.normal(dep(2), 'ServiceRecreated', 'recreated');
    t.clock.advance(2_000);
    t.recorder.normal(dep(2), 'ServiceRecreated', 'recreated');
    assert.equal(t.recorder.heldCount, 2);
    t.queue.set(false);
    await t.clock.advanceAsync(1_000);
    assert.deepEqual(notes(t.server), ['app-1 Normal Exposed: reachable at http://new.example', 'app-2 Normal ServiceRecreated: recreated']);
    const recreated = t.server.events[1]!;
    assert.equal(recreated.eventTime, '2025-05-01T12:00:01.000000Z', 'the series starts at the first occurrence');
    assert.deepEqual(recreated.series, { count: 2, lastObservedTime: '2025-05-01T12:00:03.000000Z' });
    assert.ok(t.server.requests.every((r) => r.code === 201), 'the server took every create (a series of 2 is valid)');
    // Told a third time after it went out: the series on the server counts on.
    t.recorder.normal(dep(2), 'ServiceRecreated', 'recreated');
    await t.clock.advanceAsync(1_000);
    assert.equal(t.server.events[1]?.series?.count, 3);
    assert.equal(t.server.events.length, 2);
  });

  it('paces what it held (burst, then qps) and stops the moment the queue has work again; a following burst waits for no Event', async () => {
    const t = setup({ qps: 10, burst: 2 });
    t.queue.set(true);
    for (let i = 0; i < 20; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    assert.equal(t.server.events.length, 2, 'the burst of 2 at once');
    await t.clock.advanceAsync(500);
    assert.equal(t.server.events.length, 7, 'then 10 a second');
    t.queue.set(true);
    const atBurst = t.server.requests.length;
    await t.clock.advanceAsync(30_000);
    assert.equal(t.server.requests.length, atBurst, 'not one more write while the next burst runs');
    t.queue.set(false);
    await t.clock.advanceAsync(500 + 1_300);
    assert.equal(t.server.events.length, 20, 'the rest once quiet again');
    // Oldest first.
    assert.deepEqual(
      t.server.events.map((e) => e.regarding?.name),
      Array.from({ length: 20 }, (_, i) => `app-${i}`),
    );
  });

  it('a Warning recorded during the drain goes before the held Normal Events still waiting', async () => {
    const t = setup({ qps: 1, burst: 1 });
    t.queue.set(true);
    for (let i = 0; i < 3; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    t.recorder.warning(dep(9), 'InvalidSpec', 'bad');
    await t.clock.advanceAsync(0);
    assert.deepEqual(t.server.events.map((e) => e.regarding?.name), ['app-0', 'app-9']);
  });

  it('a queue that never idles still tells: one held for overdueMs goes out at busyQps', async () => {
    const t = setup({ overdueMs: 60_000, busyQps: 1 });
    t.queue.set(true);
    for (let i = 0; i < 5; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    await t.clock.advanceAsync(59_999);
    assert.equal(t.server.events.length, 0);
    await t.clock.advanceAsync(1);
    assert.equal(t.server.events.length, 1);
    await t.clock.advanceAsync(2_000);
    assert.equal(t.server.events.length, 3, 'one a second while the queue is busy');
  });

  it('at most maxInFlight writes at once while draining', async () => {
    const t = setup({ qps: 1_000, burst: 100 }, { maxInFlight: 2 });
    t.queue.set(true);
    for (let i = 0; i < 10; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    t.server.hold();
    t.queue.set(false);
    await t.clock.advanceAsync(500);
    assert.equal(t.server.inFlight, 2);
    t.server.release();
    await t.clock.advanceAsync(100);
    assert.equal(t.server.events.length, 10);
    assert.equal(t.server.mostInFlight, 2);
  });

  it('holds at most maxHeld: past it an Event for another Deployment is dropped and counted, a newer one for a held Deployment still replaces', async () => {
    const t = setup({ maxHeld: 2 });
    t.queue.set(true);
    t.recorder.normal(dep(1), 'Exposed', 'a');
    t.recorder.normal(dep(2), 'Exposed', 'b');
    t.recorder.normal(dep(3), 'Exposed', 'c');
    t.recorder.normal(dep(1), 'Exposed', 'a2');
    assert.deepEqual(t.dropped, [['hold-limit', 1]]);
    assert.ok(t.logs.some((l) => l.msg === 'too many events held; dropping events' && l.why === 'hold-limit'));
    t.queue.set(false);
    await t.clock.advanceAsync(1_000);
    assert.deepEqual(notes(t.server), ['app-1 Normal Exposed: a2', 'app-2 Normal Exposed: b']);
  });

  it('a held repeat of an Event that expired on the server (404 on the patch) is created afresh', async () => {
    const t = setup();
    t.recorder.normal(dep(1), 'ServiceRecreated', 'recreated');
    await t.clock.advanceAsync(500);
    const first = t.server.events[0]!;
    t.server.expire('shop', first.metadata!.name!);
    t.queue.set(true);
    t.recorder.normal(dep(1), 'ServiceRecreated', 'recreated');
    t.queue.set(false);
    await t.clock.advanceAsync(1_000);
    assert.deepEqual(
      t.server.requests.map((r) => `${r.verb} ${r.code}`),
      ['create 201', 'patch 404', 'create 201'],
    );
    assert.equal(t.server.events.length, 1);
    assert.notEqual(t.server.events[0]?.metadata?.name, first.metadata?.name);
  });

  it('close() writes everything held at once (closeInFlight), without waiting for quiet or tokens', async () => {
    const t = setup({ qps: 1, burst: 1, closeInFlight: 8 }, { maxInFlight: 2 });
    t.queue.set(true);
    for (let i = 0; i < 30; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    t.server.hold();
    const closed = t.recorder.close({ timeoutMs: 1_500 });
    await settle();
    assert.equal(t.server.inFlight, 8);
    t.server.release();
    await settle();
    await closed;
    assert.equal(t.server.events.length, 30, 'every held Event written, none paced');
    assert.equal(t.server.mostInFlight, 8);
    assert.deepEqual(t.dropped, []);
    assert.ok(!t.logs.some((l) => l.msg === 'events not written before shutdown; dropped'));
  });

  it('close() that runs out of time drops what is left, says how many, counts them, and writes nothing after', async () => {
    const t = setup({ closeInFlight: 4 });
    t.queue.set(true);
    for (let i = 0; i < 10; i++) t.recorder.normal(dep(i), 'Exposed', `reachable ${i}`);
    t.server.hold();
    const closed = t.recorder.close({ timeoutMs: 1_500 });
    await t.clock.advanceAsync(1_500);
    await closed;
    assert.deepEqual(t.dropped, [['shutdown', 6]], 'four were in flight; six never left');
    const line = t.logs.find((l) => l.msg === 'events not written before shutdown; dropped');
    assert.equal(line?.dropped, 6);
    assert.equal(line?.inFlight, 4);
    t.server.release();
    await t.clock.advanceAsync(1_000);
    t.recorder.normal(dep(99), 'Exposed', 'too late');
    t.recorder.warning(dep(98), 'InvalidSpec', 'too late');
    await t.clock.advanceAsync(1_000);
    assert.equal(t.server.requests.length, 4, 'the four in flight landed; nothing else was sent');
    assert.equal(t.pending.at(-1), 0);
  });

  it('a create that finds the name taken (409) is logged and not retried', async (ctx) => {
    ctx.mock.method(Math, 'random', () => 0);
    const t = setup();
    const name = eventName('app-1', t.clock.now(), () => 0);
    t.server.stored.set(`shop/${name}`, { metadata: { name, namespace: 'shop' }, eventTime: new Date(0) as never });
    t.recorder.warning(dep(1), 'InvalidSpec', 'bad');
    await t.clock.advanceAsync(1_000);
    assert.deepEqual(t.server.requests, [{ verb: 'create', namespace: 'shop', name, code: 409 }]);
    const line = t.logs.find((l) => l.msg === 'could not record event');
    assert.match(String(line?.err), /^HTTP 409: .*already exists/);
  });
});
