import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../base/manual-clock';
import { WorkQueue, backoffDelay } from './work-queue';
import type { ReconcileResult, WorkQueueOptions } from './work-queue';
import type { ControllerMetrics, ReconcileOutcome } from '../metrics/metrics';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Call {
  key: string;
  at: number;
  resolve(result: ReconcileResult): void;
  reject(error: Error): void;
}

/** A queue whose reconciles stay in flight until the test settles them. */
function harness(opts: Partial<WorkQueueOptions> = {}) {
  const clock = new ManualClock();
  const queue = new WorkQueue({ name: 'test', workers: 1, clock, ...opts });
  const calls: Call[] = [];
  const open = new Set<Call>();
  const activePerKey = new Map<string, number>();
  let maxActive = 0;
  let maxPerKey = 0;
  const reconcile = (key: string) =>
      new Promise<ReconcileResult>((resolve, reject) => {
        const perKey = (activePerKey.get(key) ?? 0) + 1;
        activePerKey.set(key, perKey);
        maxPerKey = Math.max(maxPerKey, perKey);
        const finish = () => {
          open.delete(call);
          activePerKey.set(key, (activePerKey.get(key) ?? 1) - 1);
        };
        const call: Call = {
          key,
          at: clock.now(),
          resolve: (r) => {
            finish();
            resolve(r);
          },
          reject: (e) => {
            finish();
            reject(e);
          },
        };
        calls.push(call);
        open.add(call);
        maxActive = Math.max(maxActive, open.size);
      });
  queue.start(reconcile);
  return {
    clock,
    queue,
    reconcile,
    calls,
    open,
    get maxActive() {
      return maxActive;
    },
    get maxPerKey() {
      return maxPerKey;
    },
    keys: () => calls.map((c) => c.key),
  };
}

function fakeMetrics() {
  const depths: number[] = [];
  const outcomes: ReconcileOutcome[] = [];
  let retried = 0;
  const metrics: ControllerMetrics = {
    reconciled: (result) => void outcomes.push(result),
    setQueueDepth: (depth) => void depths.push(depth),
    retried: () => void retried++,
    setLeader: () => undefined,
    informerRestarted: () => undefined,
    objectWritten: () => undefined,
    setEventsPending: () => undefined,
    eventsDropped: () => undefined,
  };
  return {
    metrics,
    depths,
    outcomes,
    get retried() {
      return retried;
    },
  };
}

const done: ReconcileResult = { kind: 'done' };

describe('backoffDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, 5, 100)),
      [5, 10, 20, 40, 80, 100],
    );
    assert.equal(backoffDelay(5000, 5, 300_000), 300_000);
  });
});

describe('WorkQueue', () => {
  it('runs a key added ten times while queued once', async () => {
    const h = harness({ workers: 1 });
    h.queue.add('ns/blocker');
    for (let i = 0; i < 10; i++) h.queue.add('ns/a');
    assert.equal(h.queue.depth, 1);
    h.calls[0].resolve(done);
    await flush();
    assert.deepEqual(h.keys(), ['ns/blocker', 'ns/a']);
    h.calls[1].resolve(done);
    await flush();
    h.clock.runAll();
    await flush();
    assert.deepEqual(h.keys(), ['ns/blocker', 'ns/a']);
  });

  it('runs a key added during its run exactly once more, after the run, never concurrently', async () => {
    const h = harness({ workers: 4 });
    h.queue.add('ns/a');
    assert.equal(h.calls.length, 1);
    h.queue.add('ns/a');
    h.queue.add('ns/a');
    h.queue.add('ns/a');
    await flush();
    assert.equal(h.calls.length, 1, 'a second run started while the first was in flight');
    assert.equal(h.queue.depth, 0, 'an in-flight key is not counted as waiting');
    h.calls[0].resolve(done);
    await flush();
    assert.equal(h.calls.length, 2);
    h.calls[1].resolve(done);
    await flush();
    assert.equal(h.calls.length, 2);
    assert.equal(h.maxPerKey, 1);
  });

  it('starts keys in the order they were added', async () => {
    const h = harness({ workers: 1 });
    for (const key of ['ns/c', 'ns/a', 'ns/b']) h.queue.add(key);
    for (let i = 0; i < 3; i++) {
      h.calls[i].resolve(done);
      await flush();
    }
    assert.deepEqual(h.keys(), ['ns/c', 'ns/a', 'ns/b']);
  });

  it('never has more reconciles in flight than workers', async () => {
    const h = harness({ workers: 2 });
    const keys = Array.from({ length: 10 }, (_, i) => `ns/k${i}`);
    for (const key of keys) h.queue.add(key);
    assert.equal(h.queue.inFlight, 2);
    assert.equal(h.queue.depth, 8);
    // Finish them out of order, newest first, to shake the bookkeeping.
    while (h.open.size > 0) {
      const newest = [...h.open].at(-1) as Call;
      newest.resolve(done);
      await flush();
    }
    assert.equal(h.maxActive, 2);
    assert.deepEqual([...h.keys()].sort(), [...keys].sort());
  });

  it('retries a failing key after 5, 10, 20 ms … up to the cap, counting retries', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'test', workers: 1, clock, baseDelayMs: 5, maxDelayMs: 40 });
    const times: number[] = [];
    queue.start(async () => {
      times.push(clock.now());
      throw new Error('apiserver said no');
    });
    const t0 = clock.now();
    queue.add('ns/a');
    await flush();
    await clock.advanceAsync(5 + 10 + 20 + 40 + 40);
    assert.deepEqual(
      times.map((t) => t - t0),
      [0, 5, 15, 35, 75, 115],
    );
    assert.equal(queue.retries('ns/a'), 6);
  });

  it('forgets the backoff of a key once it succeeds', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'test', workers: 1, clock, baseDelayMs: 5 });
    const outcomes: Array<'fail' | 'ok'> = ['fail', 'fail', 'ok', 'fail'];
    const times: number[] = [];
    queue.start(async () => {
      times.push(clock.now());
      if (outcomes.shift() === 'fail') throw new Error('boom');
      return done;
    });
    const t0 = clock.now();
    queue.add('ns/a');
    await clock.advanceAsync(15);
    assert.equal(times.length, 3);
    assert.equal(queue.retries('ns/a'), 0);
    queue.add('ns/a');
    await flush();
    assert.equal(queue.retries('ns/a'), 1);
    await clock.advanceAsync(4);
    assert.equal(times.length, 4, 'retried before the base delay');
    await clock.advanceAsync(1);
    assert.deepEqual(
      times.map((t) => t - t0),
      [0, 5, 15, 15, 20],
    );
  });

  it('does not retry a terminal error', async () => {
    const m = fakeMetrics();
    const h = harness({ metrics: m.metrics });
    h.queue.add('ns/a');
    h.calls[0].resolve({ kind: 'terminal', error: new Error('selector uses matchExpressions') });
    await flush();
    await h.clock.advanceAsync(3_600_000);
    assert.equal(h.calls.length, 1);
    assert.equal(h.queue.retries('ns/a'), 0);
    assert.deepEqual(m.outcomes, ['terminal']);
  });

  it('runs a key again after requeueAfter, not before, without counting a retry', async () => {
    const h = harness();
    h.queue.add('ns/a');
    h.calls[0].reject(new Error('first try fails'));
    await flush();
    await h.clock.advanceAsync(5);
    assert.equal(h.calls.length, 2);
    assert.equal(h.queue.retries('ns/a'), 1);
    h.calls[1].resolve({ kind: 'requeueAfter', delayMs: 1000 });
    await flush();
    assert.equal(h.queue.retries('ns/a'), 0);
    await h.clock.advanceAsync(999);
    assert.equal(h.calls.length, 2);
    await h.clock.advanceAsync(1);
    assert.equal(h.calls.length, 3);
    assert.equal(h.calls[2].at - h.calls[1].at, 1000);
  });

  it('keeps the earliest of several delayed adds of one key', async () => {
    const h = harness();
    h.queue.addAfter('ns/a', 500);
    h.queue.addAfter('ns/a', 100);
    h.queue.addAfter('ns/a', 300);
    await h.clock.advanceAsync(99);
    assert.equal(h.calls.length, 0);
    await h.clock.advanceAsync(1);
    assert.equal(h.calls.length, 1);
    h.calls[0].resolve(done);
    await h.clock.advanceAsync(1000);
    assert.equal(h.calls.length, 1);
  });

  it('fresh keys start as fast as the workers allow: the rate limit is for retries only (as client-go)', async () => {
    const h = harness({ workers: 100, qps: 10, burst: 3 });
    for (let i = 0; i < 6; i++) h.queue.add(`ns/k${i}`);
    assert.equal(h.calls.length, 6, 'six fresh keys, six starts at once');
  });

  it('retries are spaced by the global bucket once its burst is spent, and by each key\'s own backoff', async () => {
    const h = harness({ workers: 100, qps: 10, burst: 3, baseDelayMs: 5 });
    for (let i = 0; i < 6; i++) h.queue.add(`ns/k${i}`);
    for (const call of [...h.open]) call.reject(new Error('API down'));
    await flush();
    // Burst of 3: three retries after their own 5 ms backoff; then one per 100 ms.
    await h.clock.advanceAsync(5);
    assert.equal(h.calls.length, 9);
    await h.clock.advanceAsync(94);
    assert.equal(h.calls.length, 9);
    await h.clock.advanceAsync(1);
    assert.equal(h.calls.length, 10);
    await h.clock.advanceAsync(200);
    assert.equal(h.calls.length, 12);
  });

  it('shutdown refuses new work and waits for in-flight reconciles', async () => {
    const h = harness({ workers: 2 });
    h.queue.add('ns/a');
    h.queue.add('ns/b');
    h.queue.add('ns/queued');
    let finished = false;
    const stopped = h.queue.shutdown().then(() => {
      finished = true;
    });
    h.queue.add('ns/late');
    h.queue.addAfter('ns/later', 10);
    assert.equal(h.queue.depth, 0);
    h.calls[0].resolve(done);
    await flush();
    assert.equal(finished, false, 'shutdown resolved with a reconcile still in flight');
    // A failure during shutdown must not schedule a retry.
    h.calls[1].reject(new Error('boom'));
    await stopped;
    await h.clock.advanceAsync(60_000);
    assert.deepEqual(h.keys(), ['ns/a', 'ns/b']);
    assert.equal(h.clock.pendingTimers, 0);
  });

  it('shutdown gives up waiting after timeoutMs', async () => {
    const h = harness();
    h.queue.add('ns/stuck');
    let finished = false;
    const stopped = h.queue.shutdown({ timeoutMs: 1000 }).then(() => {
      finished = true;
    });
    await h.clock.advanceAsync(999);
    assert.equal(finished, false);
    await h.clock.advanceAsync(1);
    await stopped;
    assert.equal(finished, true);
  });

  it('takes no keys before start (a standby holds nothing) and runs what is added after', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'test', workers: 1, clock });
    queue.add('ns/a');
    queue.addAfter('ns/b', 10);
    assert.equal(queue.depth, 0);
    assert.equal(queue.held, 0);
    const seen: string[] = [];
    queue.start(async (key) => {
      seen.push(key);
      return done;
    });
    await clock.advanceAsync(20);
    assert.deepEqual(seen, [], 'keys offered before start were dropped');
    queue.add('ns/c');
    await flush();
    assert.deepEqual(seen, ['ns/c']);
  });

  it('pause drops queued, delayed and failing keys, waits for the one in flight, ignores adds, and can start again', async () => {
    const h = harness({ workers: 1 });
    h.queue.add('ns/a');
    h.queue.add('ns/b');
    h.queue.addAfter('ns/c', 100);
    assert.equal(h.calls.length, 1);
    let paused = false;
    const pausing = h.queue.pause().then(() => {
      paused = true;
    });
    assert.equal(h.queue.isRunning, false);
    h.queue.add('ns/d');
    h.queue.addAfter('ns/e', 5);
    await flush();
    assert.equal(paused, false, 'waits for the reconcile in flight');
    h.calls[0].reject(new Error('API server down'));
    await pausing;
    assert.equal(h.queue.held, 0, 'no key, delay or failure count is left on a paused queue');
    await h.clock.advanceAsync(1_000);
    assert.equal(h.calls.length, 1, 'nothing ran while paused, not even the failed key');

    h.queue.start(h.reconcile);
    h.queue.add('ns/f');
    await flush();
    assert.deepEqual(h.calls.map((c) => c.key), ['ns/a', 'ns/f']);
    assert.equal(h.queue.retries('ns/a'), 0);
  });

  it('reports depth and results to metrics', async () => {
    const m = fakeMetrics();
    const h = harness({ workers: 1, metrics: m.metrics });
    h.queue.add('ns/a');
    h.queue.add('ns/b');
    h.queue.add('ns/c');
    assert.equal(h.queue.depth, 2);
    assert.equal(m.depths.at(-1), 2);
    h.calls[0].reject(new Error('boom'));
    await flush();
    h.calls[1].resolve({ kind: 'requeueAfter', delayMs: 50 });
    await flush();
    h.calls[2].resolve(done);
    await flush();
    assert.equal(m.depths.at(-1), 0);
    assert.ok(Math.max(...m.depths) === 2);
    assert.deepEqual(m.outcomes, ['error', 'requeue', 'done']);
    assert.equal(m.retried, 1);
  });

  it('treats a reconciler that throws synchronously as a failure to retry', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ name: 'test', workers: 1, clock });
    let runs = 0;
    queue.start(((_key: string) => {
      runs++;
      if (runs === 1) throw new Error('not even a promise');
      return Promise.resolve(done);
    }) as (key: string) => Promise<ReconcileResult>);
    queue.add('ns/a');
    await flush();
    assert.equal(queue.retries('ns/a'), 1);
    await clock.advanceAsync(5);
    assert.equal(runs, 2);
    assert.equal(queue.retries('ns/a'), 0);
  });
  it('is busy while keys are ready or in flight (not for a delayed one), and tells each change once', async () => {
    const h = harness({ workers: 1 });
    const told: boolean[] = [];
    h.queue.onBusyChange((busy) => told.push(busy));
    h.queue.addAfter('ns/later', 1_000);
    assert.equal(h.queue.busy, false, 'a key due later is no work now');
    h.queue.add('ns/a');
    h.queue.add('ns/b');
    assert.equal(h.queue.busy, true);
    h.calls[0]!.resolve(done);
    await flush();
    assert.equal(h.queue.busy, true, 'ns/b runs now');
    h.calls[1]!.resolve(done);
    await flush();
    assert.equal(h.queue.busy, false);
    await h.clock.advanceAsync(1_000);
    assert.equal(h.queue.busy, true, 'the delayed key came due');
    h.calls[2]!.resolve(done);
    await flush();
    assert.deepEqual(told, [true, false, true, false]);
  });

  it('is no longer busy once paused and the reconcile in flight has ended', async () => {
    const h = harness({ workers: 1 });
    const told: boolean[] = [];
    h.queue.onBusyChange((busy) => told.push(busy));
    h.queue.add('ns/a');
    h.queue.add('ns/b');
    const paused = h.queue.pause();
    assert.equal(h.queue.busy, true, 'ns/a is still in flight');
    h.calls[0]!.resolve(done);
    await paused;
    assert.equal(h.queue.busy, false);
    assert.deepEqual(told, [true, false]);
  });
});
