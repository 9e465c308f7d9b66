import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { EventsV1Event } from '@kubernetes/client-node';
import { ManualClock } from '../base/manual-clock';
import { EventRecorder, type EventRecorderOptions, eventName } from './event-recorder';

interface CreateCall {
  namespace: string;
  body: EventsV1Event;
}
interface PatchCall {
  name: string;
  namespace: string;
  body: { series: { count: number; lastObservedTime: string } };
  contentType: string | undefined;
}

/** What goes on the wire: MicroTime fields must carry six fractional digits or the API server rejects them. */
const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

/** The Content-Type the client would send, read from the options passed to a patch call. */
function contentTypeOf(options: unknown): string | undefined {
  const headers: Record<string, string> = {};
  const request = { setHeaderParam: (k: string, v: string) => void (headers[k] = v) };
  for (const m of (options as { middleware?: Array<{ pre(r: unknown): unknown }> })?.middleware ?? []) m.pre(request);
  return headers['Content-Type'];
}

/** A fake EventsV1Api: records calls (as sent on the wire); the test queues errors for the next create/patch calls. */
function fakeCore() {
  const creates: CreateCall[] = [];
  const patches: PatchCall[] = [];
  const createErrors: unknown[] = [];
  const patchErrors: unknown[] = [];
  const core = {
    createNamespacedEvent: async (params: { namespace: string; body: EventsV1Event }) => {
      creates.push(wire(params) as CreateCall);
      const err = createErrors.shift();
      if (err) throw err;
      return params.body;
    },
    patchNamespacedEvent: async (params: { name: string; namespace: string; body: PatchCall['body'] }, options?: unknown) => {
      patches.push({ ...(wire(params) as PatchCall), contentType: contentTypeOf(options) });
      const err = patchErrors.shift();
      if (err) throw err;
      return {} as EventsV1Event;
    },
  };
  return { core: core as unknown as EventRecorderOptions['events'], creates, patches, createErrors, patchErrors };
}

type CreateEvent = EventRecorderOptions['events']['createNamespacedEvent'];

/** `aroundCreate` wraps the fake API's create, to hold or count the writes. */
function setup(opts: Partial<EventRecorderOptions> = {}, aroundCreate?: (create: CreateEvent, req: Parameters<CreateEvent>[0]) => ReturnType<CreateEvent>) {
  const api = fakeCore();
  if (aroundCreate) {
    const create = api.core.createNamespacedEvent.bind(api.core);
    api.core = { ...api.core, createNamespacedEvent: (req: Parameters<CreateEvent>[0]) => aroundCreate(create, req) } as EventRecorderOptions['events'];
  }
  const clock = new ManualClock({ start: Date.UTC(2025, 4, 1, 12, 0, 0) });
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const writes: string[] = [];
  const recorder = new EventRecorder({
    events: api.core,
    component: 'ekspose-deployment-controller',
    actionOf: (reason) => (reason === 'InvalidSpec' ? 'Validate' : 'Expose'),
    instance: 'pod-1',
    log,
    clock,
    onWrite: (action) => void writes.push(action),
    ...opts,
  });
  return { ...api, clock, logs, writes, recorder };
}

const dep = { name: 'web', namespace: 'shop', uid: 'uid-1', resourceVersion: '7' };
const apiError = (code: number) => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: { message: `status ${code}` } });

describe('eventName', () => {
  it('is the object name, a dot and a hex time stamp with a random tail', () => {
    assert.equal(eventName('web', 1000, () => 0), `web.${(1000n * 1_000_000n).toString(16)}`);
    assert.notEqual(eventName('web', 1000, () => 0), eventName('web', 1000, () => 0.5));
    assert.match(eventName('web', Date.UTC(2025, 0, 1)), /^web\.[0-9a-f]+$/);
  });
});

describe('EventRecorder', () => {
  it('records nothing about an object its admit check refuses (with shards: a namespace not served here)', async () => {
    const t = setup();
    t.recorder.admit = (obj) => obj.namespace !== 'shop';
    t.recorder.warning(dep, 'InvalidSpec', 'refused');
    t.recorder.normal({ ...dep, namespace: 'other' }, 'Exposed', 'told');
    await t.recorder.flush();
    assert.deepEqual(t.creates.map((c) => c.namespace), ['other']);
  });

  it('the first record creates an events.k8s.io/v1 Event regarding the Deployment, eventTime in microseconds', async () => {
    const t = setup();
    t.recorder.warning(dep, 'InvalidSpec', 'label port: "abc" must be an integer');
    await t.recorder.flush();
    assert.equal(t.creates.length, 1);
    assert.equal(t.patches.length, 0);
    const [{ namespace, body }] = t.creates as [CreateCall];
    assert.equal(namespace, 'shop');
    assert.match(body.metadata?.name ?? '', /^web\.[0-9a-f]+$/);
    assert.deepEqual(
      { ...body, metadata: { ...body.metadata, name: undefined } },
      {
        metadata: { name: undefined, namespace: 'shop' },
        eventTime: '2025-05-01T12:00:00.000000Z',
        regarding: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'uid-1', resourceVersion: '7' },
        type: 'Warning',
        reason: 'InvalidSpec',
        action: 'Validate',
        note: 'label port: "abc" must be an integer',
        reportingController: 'ekspose-deployment-controller',
        reportingInstance: 'pod-1',
      },
    );
    assert.deepEqual(t.writes, ['create']);
  });

  it('normal() records type Normal', async () => {
    const t = setup();
    t.recorder.normal(dep, 'ServiceRecreated', 'recreated');
    await t.recorder.flush();
    assert.equal(t.creates[0]?.body.type, 'Normal');
    assert.equal(t.creates[0]?.body.reason, 'ServiceRecreated');
  });

  it('the same event again patches the series (count, lastObservedTime) of the existing Event instead of creating one', async () => {
    const t = setup();
    t.recorder.warning(dep, 'HostConflict', 'host taken');
    await t.recorder.flush();
    const name = t.creates[0]?.body.metadata?.name;
    assert.ok(name);
    t.clock.advance(5_000);
    t.recorder.warning(dep, 'HostConflict', 'host taken');
    await t.recorder.flush();
    t.clock.advance(5_000);
    t.recorder.warning(dep, 'HostConflict', 'host taken');
    await t.recorder.flush();
    assert.equal(t.creates.length, 1);
    assert.deepEqual(t.patches, [
      {
        name,
        namespace: 'shop',
        body: { series: { count: 2, lastObservedTime: '2025-05-01T12:00:05.000000Z' } },
        contentType: 'application/merge-patch+json',
      },
      {
        name,
        namespace: 'shop',
        body: { series: { count: 3, lastObservedTime: '2025-05-01T12:00:10.000000Z' } },
        contentType: 'application/merge-patch+json',
      },
    ]);
    assert.deepEqual(t.writes, ['create', 'patch', 'patch']);
  });

  it('a different reason, type, message or object is a new Event', async () => {
    const t = setup();
    t.recorder.warning(dep, 'HostConflict', 'm');
    await t.recorder.flush();
    t.recorder.warning(dep, 'ServiceConflict', 'm');
    await t.recorder.flush();
    t.recorder.normal(dep, 'HostConflict', 'm');
    await t.recorder.flush();
    t.recorder.warning(dep, 'HostConflict', 'other message');
    await t.recorder.flush();
    t.recorder.warning({ ...dep, uid: 'uid-2' }, 'HostConflict', 'm');
    await t.recorder.flush();
    assert.equal(t.creates.length, 5);
    assert.equal(t.patches.length, 0);
  });

  it('a 404 on the patch (the Event expired): creates a fresh one, which later repeats patch', async () => {
    const t = setup();
    t.recorder.warning(dep, 'InvalidSpec', 'bad');
    await t.recorder.flush();
    t.patchErrors.push(apiError(404));
    t.clock.advance(3_600_000);
    t.recorder.warning(dep, 'InvalidSpec', 'bad');
    await t.recorder.flush();
    assert.equal(t.patches.length, 1);
    assert.equal(t.creates.length, 2);
    const fresh = (t.creates[1] as CreateCall).body;
    assert.equal(fresh.series, undefined, 'a fresh Event has no series');
    assert.notEqual(fresh.metadata?.name, t.creates[0]?.body.metadata?.name);
    t.recorder.warning(dep, 'InvalidSpec', 'bad');
    await t.recorder.flush();
    assert.equal(t.patches.length, 2);
    assert.equal(t.patches[1]?.name, fresh.metadata?.name);
    assert.equal(t.patches[1]?.body.series.count, 2);
  });

  it('an API error on create is logged, not thrown', async () => {
    const t = setup();
    t.createErrors.push(apiError(403));
    assert.doesNotThrow(() => t.recorder.warning(dep, 'InvalidSpec', 'bad'));
    await assert.doesNotReject(t.recorder.flush());
    assert.deepEqual(t.writes, []);
    const line = t.logs.find((l) => l.msg === 'could not record event');
    assert.ok(line, 'a warning is logged');
    assert.equal(line.level, 40);
    assert.equal(line.err, 'HTTP 403: status 403');
    assert.equal(line.deployment, 'shop/web');
    // Nothing was remembered, so the next one tries a create again.
    t.recorder.warning(dep, 'InvalidSpec', 'bad');
    await t.recorder.flush();
    assert.equal(t.creates.length, 2);
    assert.equal(t.patches.length, 0);
  });

  it('a non-404 error on patch is logged, not thrown, and creates nothing', async () => {
    const t = setup();
    t.recorder.warning(dep, 'InvalidSpec', 'bad');
    await t.recorder.flush();
    t.patchErrors.push(apiError(500));
    assert.doesNotThrow(() => t.recorder.warning(dep, 'InvalidSpec', 'bad'));
    await assert.doesNotReject(t.recorder.flush());
    assert.equal(t.creates.length, 1);
    assert.ok(t.logs.some((l) => l.msg === 'could not record event' && l.err === 'HTTP 500: status 500'));
  });

  it('cuts messages longer than 1024 characters to 1024, marked with "..."', async () => {
    const t = setup();
    t.recorder.warning(dep, 'InvalidSpec', 'x'.repeat(5000));
    await t.recorder.flush();
    const message = t.creates[0]?.body.note ?? '';
    assert.equal(message.length, 1024);
    assert.ok(message.endsWith('...'));
    assert.ok(message.startsWith('x'.repeat(1021)));
    t.recorder.warning(dep, 'InvalidSpec', 'y'.repeat(1024));
    await t.recorder.flush();
    assert.equal(t.creates[1]?.body.note, 'y'.repeat(1024), 'exactly 1024 is left alone');
  });

  it('forgets the oldest event beyond cacheSize', async () => {
    const t = setup({ cacheSize: 2 });
    t.recorder.warning(dep, 'InvalidSpec', 'a');
    await t.recorder.flush();
    t.recorder.warning(dep, 'InvalidSpec', 'b');
    await t.recorder.flush();
    await t.recorder.warning(dep, 'InvalidSpec', 'a'); // refreshes a
    await t.recorder.warning(dep, 'InvalidSpec', 'c'); // evicts b
    t.recorder.warning(dep, 'InvalidSpec', 'b');
    await t.recorder.flush();
    assert.deepEqual(
      t.creates.map((c) => c.body.note),
      ['a', 'b', 'c', 'b'],
    );
    assert.equal(t.patches.length, 1);
  });
  it('returns before the write is done: a reconcile never waits for its Event, and flush() waits for all', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = setup({}, async (create, req) => {
      await gate;
      return create(req);
    });
    t.recorder.warning(dep, 'InvalidSpec', 'one');
    t.recorder.normal(dep, 'Exposed', 'two');
    assert.equal(t.creates.length, 0, 'nothing written yet, and record() has returned');
    assert.equal(t.recorder.pending, 2);
    let flushed = false;
    const flushing = t.recorder.flush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(flushed, false);
    release();
    await flushing;
    assert.equal(t.creates.length, 2);
    assert.equal(t.recorder.pending, 0);
  });

  it('at most maxInFlight writes at once; the same event twice in a row is one create and one patch, never two creates', async () => {
    let inFlight = 0;
    let most = 0;
    const t = setup({ maxInFlight: 2 }, async (create, req) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return create(req);
    });
    for (let i = 0; i < 6; i++) t.recorder.normal({ ...dep, uid: `uid-${i}`, name: `web-${i}` }, 'Exposed', 'x');
    t.recorder.warning(dep, 'HostConflict', 'same');
    t.recorder.warning(dep, 'HostConflict', 'same');
    await t.recorder.flush();
    assert.equal(most, 2);
    assert.equal(t.creates.length, 7);
    assert.equal(t.patches.length, 1);
    assert.equal(t.patches[0]?.body.series.count, 2);
  });

  it('a full queue drops the newest Events and says so, and keeps what it had', async () => {
    const t = setup({ maxInFlight: 1, maxQueued: 3 });
    for (let i = 0; i < 10; i++) t.recorder.normal({ ...dep, uid: `uid-${i}`, name: `web-${i}` }, 'Exposed', 'x');
    await t.recorder.flush();
    // One in flight at once plus three queued were kept.
    assert.deepEqual(t.creates.map((c) => c.body.regarding?.name), ['web-0', 'web-1', 'web-2', 'web-3']);
    assert.ok(t.logs.some((l) => l.msg === 'event queue full; dropping events'));
  });
});
