import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { ManualClock } from '../base/manual-clock';
import {
  LeaderElector,
  LeaseConflictError,
  acquiredLeaseRecord,
  kubernetesLeaseStore,
  leaseHeldByOther,
  releasedLeaseRecord,
  sameLeaseRecord,
} from './leader-election';
import type { LeaseRecord, LeaseStore } from './leader-election';
import { WriteFence } from './write-fence';

const log = pino({ level: 'silent' });
const LEASE = 15_000;
const RENEW = 10_000;
const RETRY = 2_000;

const copy = (r: LeaseRecord): LeaseRecord => ({
  ...r,
  acquireTime: r.acquireTime && new Date(r.acquireTime.getTime()),
  renewTime: r.renewTime && new Date(r.renewTime.getTime()),
});

/** The API server's part: one Lease, resourceVersion checked on every update, optional latency so calls interleave. */
class MemoryLeaseStore implements LeaseStore {
  record: LeaseRecord | null = null;
  private version = 0;
  readonly writes: Array<{ at: number; record: LeaseRecord }> = [];

  constructor(
    private readonly clock: ManualClock,
    private readonly latencyMs = 0,
  ) {}

  async get(): Promise<LeaseRecord | null> {
    await this.latency();
    return this.record && copy(this.record);
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    await this.latency();
    if (this.record) throw new LeaseConflictError('already exists');
    return this.write(record);
  }

  async update(record: LeaseRecord): Promise<LeaseRecord> {
    await this.latency();
    if (!this.record) throw Object.assign(new Error('not found'), { code: 404 });
    if (record.resourceVersion !== this.record.resourceVersion) throw new LeaseConflictError('stale resourceVersion');
    return this.write(record);
  }

  private write(record: LeaseRecord): LeaseRecord {
    this.record = { ...copy(record), resourceVersion: String(++this.version) };
    this.writes.push({ at: this.clock.now(), record: copy(this.record) });
    return copy(this.record);
  }

  private latency(): Promise<void> {
    if (this.latencyMs === 0) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimeout(resolve, this.latencyMs));
  }
}

/** One candidate's connection to the store, which the test can break. */
class Link implements LeaseStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  gets = 0;
  constructor(private readonly store: LeaseStore) {}
  get = () => {
    this.gets++;
    return this.pass(() => this.store.get());
  };
  create = (r: LeaseRecord) => this.pass(() => this.store.create(r));
  update = (r: LeaseRecord) => this.pass(() => this.store.update(r));
  private pass<T>(call: () => Promise<T>): Promise<T> {
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return call();
  }
}

function candidate(identity: string, store: LeaseStore, clock: ManualClock) {
  const link = new Link(store);
  const events: Array<[string, number]> = [];
  const leaderMetric: boolean[] = [];
  const fence = new WriteFence(RENEW, clock);
  const elector = new LeaderElector({
    fence,
    store: link,
    identity,
    leaseDurationMs: LEASE,
    renewDeadlineMs: RENEW,
    retryPeriodMs: RETRY,
    clock,
    log,
    metrics: { setLeader: (v) => void leaderMetric.push(v) },
    onStartedLeading: () => void events.push(['started', clock.now()]),
    onStoppedLeading: () => void events.push(['stopped', clock.now()]),
  });
  return { identity, link, elector, events, leaderMetric, fence };
}

/** A fresh clock, an empty store that answers after `latencyMs`, and one candidate per identity, not started. */
function election(identities: string[], latencyMs = 0) {
  const clock = new ManualClock();
  const store = new MemoryLeaseStore(clock, latencyMs);
  return { clock, store, candidates: identities.map((id) => candidate(id, store, clock)) };
}

/** Candidate `a`, started alone. */
function startedAlone(latencyMs = 0) {
  const { clock, store, candidates: [a] } = election(['a'], latencyMs);
  a.elector.start();
  return { clock, store, a };
}

/** `a` started first, so leading; `b` started after it, so standing by. */
async function leaderAndStandby() {
  const { clock, store, candidates: [a, b] } = election(['a', 'b']);
  a.elector.start();
  await clock.advanceAsync(0);
  b.elector.start();
  return { clock, store, a, b };
}

/** Advances in small steps, checking after each that at most one candidate believes it leads, and that the lease names it. */
async function run(clock: ManualClock, store: MemoryLeaseStore, ms: number, all: Array<ReturnType<typeof candidate>>) {
  const step = 100;
  for (let t = 0; t < ms; t += step) {
    await clock.advanceAsync(Math.min(step, ms - t));
    const leaders = all.filter((c) => c.elector.isLeader);
    assert.ok(leaders.length <= 1, `two leaders at ${clock.now()}: ${leaders.map((c) => c.identity)}`);
    if (leaders[0]) assert.equal(store.record?.holderIdentity, leaders[0].identity, 'a leader the lease does not name');
  }
}

describe('lease bookkeeping', () => {
  const t0 = new Date('2025-01-01T00:00:00Z');
  const t1 = new Date('2025-01-01T00:00:02Z');

  it('counts a transition when the holder changes, not when it renews', () => {
    const first = acquiredLeaseRecord(null, 'a', 15, t0);
    assert.deepEqual(first, {
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: t0,
      renewTime: t0,
      leaseTransitions: 0,
      resourceVersion: undefined,
    });
    const renewed = acquiredLeaseRecord({ ...first, resourceVersion: '7' }, 'a', 15, t1);
    assert.equal(renewed.acquireTime, t0);
    assert.equal(renewed.renewTime, t1);
    assert.equal(renewed.leaseTransitions, 0);
    assert.equal(renewed.resourceVersion, '7');
    const taken = acquiredLeaseRecord({ ...first, resourceVersion: '8' }, 'b', 15, t1);
    assert.equal(taken.acquireTime, t1);
    assert.equal(taken.leaseTransitions, 1);
  });

  it('releases like client-go: no holder, one second, transitions kept', () => {
    const released = releasedLeaseRecord({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 3, resourceVersion: '9' }, t1);
    assert.deepEqual(released, {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: t1,
      renewTime: t1,
      leaseTransitions: 3,
      resourceVersion: '9',
    });
  });

  it('judges expiry from the local observation time, ignoring renewTime', () => {
    // renewTime far in the past (a skewed clock) does not make the lease look expired.
    const record: LeaseRecord = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new Date(0) };
    assert.equal(leaseHeldByOther(record, 'b', 1_000_000, 1_014_999), true);
    assert.equal(leaseHeldByOther(record, 'b', 1_000_000, 1_015_000), false);
    assert.equal(leaseHeldByOther(record, 'a', 1_000_000, 1_000_001), false);
    assert.equal(leaseHeldByOther({ ...record, holderIdentity: '' }, 'b', 1_000_000, 1_000_001), false);
  });

  it('sees a renewal as a change', () => {
    const a: LeaseRecord = { holderIdentity: 'a', renewTime: t0, resourceVersion: '1' };
    assert.equal(sameLeaseRecord(a, { ...a, renewTime: new Date(t0.getTime()) }), true);
    assert.equal(sameLeaseRecord(a, { ...a, renewTime: t1, resourceVersion: '2' }), false);
    assert.equal(sameLeaseRecord(a, { ...a, renewTime: t1 }), false);
  });
});

describe('LeaderElector', () => {
  it('a single candidate creates the lease and leads', async () => {
    const { clock, store, a } = startedAlone();
    await clock.advanceAsync(0);
    assert.equal(a.elector.isLeader, true);
    assert.deepEqual(a.events, [['started', clock.now()]]);
    assert.equal(a.leaderMetric.at(-1), true);
    assert.equal(store.record?.holderIdentity, 'a');
    assert.equal(store.record?.leaseDurationSeconds, 15);
    // It keeps renewing every retry period, on top of its last write, without re-reading.
    const gets = a.link.gets;
    await clock.advanceAsync(10 * RETRY);
    assert.equal(store.writes.length, 11);
    assert.equal(a.link.gets, gets);
    assert.equal(a.events.length, 1);
    await a.elector.stop();
  });

  it('a second candidate stays standby while the leader renews', async () => {
    const { clock, store, a, b } = await leaderAndStandby();
    await run(clock, store, 5 * LEASE, [a, b]);
    assert.equal(a.elector.isLeader, true);
    assert.deepEqual(b.events, []);
    assert.equal(store.record?.leaseTransitions, 0);
  });

  it('a standby takes over once the lease duration has passed since the last renewal, not before', async () => {
    const { clock, store, a, b } = await leaderAndStandby();
    await run(clock, store, 3 * RETRY + 500, [a, b]);

    a.link.mode = 'hang'; // a is cut off: it neither renews nor hears back
    const lastRenew = (store.writes.at(-1) as { at: number }).at;
    let takeover: number | undefined;
    for (let t = 0; t < 2 * LEASE && takeover === undefined; t += 100) {
      await run(clock, store, 100, [a, b]);
      if (b.elector.isLeader) takeover = clock.now();
    }
    assert.ok(takeover !== undefined, 'b never took over');
    assert.ok(takeover >= lastRenew + LEASE, `took over ${lastRenew + LEASE - takeover} ms early`);
    // b sees a's last write up to one period late, then checks once per period.
    assert.ok(takeover <= lastRenew + LEASE + 2 * RETRY, `took over ${takeover - lastRenew - LEASE} ms late`);
    assert.deepEqual(a.events.map(([e]) => e), ['started', 'stopped']);
    // Its renew cycle started a retry period after its last renewal; its writes stopped at that renewal's deadline.
    assert.ok((a.events[1][1] as number) <= lastRenew + RETRY + RENEW, 'a kept leading past its renew deadline');
    assert.equal(store.record?.holderIdentity, 'b');
    assert.equal(store.record?.leaseTransitions, 1);
  });

  it('a leader that cannot renew stops writing at its last renewal’s deadline and steps down at the deadline of the renew cycle that failed', async () => {
    const { clock, store, a } = startedAlone();
    await clock.advanceAsync(RETRY + 100);
    const lastRenew = (store.writes.at(-1) as { at: number }).at;
    a.link.mode = 'fail';
    await clock.advanceAsync(lastRenew + RENEW - 1 - clock.now());
    assert.equal(a.fence.valid(), true);
    await clock.advanceAsync(1);
    assert.equal(a.fence.valid(), false, 'no write past the renew deadline of the last committed renewal');
    assert.equal(a.elector.isLeader, true);
    // The cycle that failed started a retry period after that renewal (client-go's renew loop).
    await clock.advanceAsync(lastRenew + RETRY + RENEW - 1 - clock.now());
    assert.equal(a.elector.isLeader, true);
    await clock.advanceAsync(1);
    assert.equal(a.elector.isLeader, false);
    assert.deepEqual(a.events, [
      ['started', lastRenew - RETRY],
      ['stopped', lastRenew + RETRY + RENEW],
    ]);
    assert.equal(a.leaderMetric.at(-1), false);

    // Once the store answers again it leads again: the lease still names it.
    a.link.mode = 'ok';
    await clock.advanceAsync(RETRY);
    assert.equal(a.elector.isLeader, true);
    await a.elector.stop();
  });

  it('renewals that each take 4.2 s (a slow webhook or etcd) keep one leader leading: the deadline counts from the current renew cycle', async () => {
    const { clock, store, a } = startedAlone(4_200);
    // A get and a create of 4.2 s each, then it leads.
    await clock.advanceAsync(9_000);
    assert.equal(a.elector.isLeader, true);
    let fenceDown = 0;
    for (let t = 0; t < 150_000; t += 100) {
      await clock.advanceAsync(100);
      if (!a.fence.valid()) fenceDown += 100;
    }
    assert.deepEqual(a.events.map(([e]) => e), ['started'], `leadership lost and retaken ${a.events.filter(([e]) => e === 'stopped').length} times in 150 s`);
    assert.ok(store.writes.length > 20, 'renewed all along');
    // Between a renewal's send + 10 s and its answer (0.4 s of each 6.2 s cycle) writes wait: the keys are tried again.
    assert.ok(fenceDown < 15_000, `writes refused for ${fenceDown} ms of 150 s`);
    const stopping = a.elector.stop();
    await clock.advanceAsync(2 * RENEW);
    await stopping;
  });

  it('a leader paused past its lease writes nothing once it resumes: its fence ended at the renew deadline, before the standby took over', async () => {
    // Each on its own clock: a's does not move while a is paused (SIGSTOP, a frozen node).
    const clockA = new ManualClock();
    const clockB = new ManualClock();
    const store = new MemoryLeaseStore(clockB);
    const a = candidate('a', store, clockA);
    const b = candidate('b', store, clockB);
    a.elector.start();
    await clockA.advanceAsync(RETRY + 1);
    b.elector.start();
    await clockB.advanceAsync(RETRY + 1);
    assert.equal(a.elector.isLeader, true);
    assert.equal(a.fence.valid(), true);
    // a stops for 30 s; b sees the Lease unchanged for the lease duration and takes over.
    await clockB.advanceAsync(30_000);
    assert.equal(b.elector.isLeader, true);
    assert.equal(b.fence.valid(), true);
    clockA.skip(30_000);
    // What a's in-flight reconcile sees first when it resumes, before any timer of a has run.
    assert.equal(a.fence.valid(), false, 'the paused leader may still write after the standby took over');
    assert.throws(() => a.fence.guard('any'), /last renewed too long ago/);
    await clockA.advanceAsync(0);
    assert.equal(a.elector.isLeader, false);
  });

  it('stop() releases the lease and the standby takes it on its next try', async () => {
    const { clock, store, a, b } = await leaderAndStandby();
    await run(clock, store, 3 * RETRY, [a, b]);

    const stoppedAt = clock.now();
    await a.elector.stop();
    assert.equal(a.elector.isLeader, false);
    assert.deepEqual(a.events.map(([e]) => e), ['started', 'stopped']);
    assert.equal(store.record?.holderIdentity, '');
    assert.equal(store.record?.leaseDurationSeconds, 1);

    await run(clock, store, RETRY, [a, b]);
    assert.equal(b.elector.isLeader, true);
    assert.ok((b.events[0][1] as number) <= stoppedAt + RETRY);
    assert.equal(store.record?.holderIdentity, 'b');
    assert.equal(store.record?.leaseTransitions, 1);

    // A stopped elector never comes back.
    await run(clock, store, 3 * LEASE, [a, b]);
    assert.deepEqual(a.events.map(([e]) => e), ['started', 'stopped']);
    await b.elector.stop();
    assert.equal(clock.pendingTimers, 0);
  });

  it('stop() on a leader whose store hangs still ends, and not later than its deadlines', async () => {
    const { clock, a } = startedAlone();
    await clock.advanceAsync(RETRY + 1); // leading, with a renewal at RETRY
    a.link.mode = 'hang';
    await clock.advanceAsync(RETRY); // a renewal is now stuck in flight
    let done = false;
    const stopping = a.elector.stop().then(() => (done = true));
    await clock.advanceAsync(RENEW - 2);
    assert.equal(a.fence.valid(), false, 'writes stopped at RETRY + RENEW, the last renewal’s deadline');
    assert.equal(a.elector.isLeader, true);
    await clock.advanceAsync(1); // 2 RETRY + RENEW: the deadline of the cycle stuck in flight
    assert.equal(a.elector.isLeader, false, 'stop() kept it leading past its renew deadline');
    await clock.advanceAsync(2 * RENEW);
    await stopping;
    assert.equal(done, true);
    assert.deepEqual(a.events.map(([e]) => e), ['started', 'stopped']);
    assert.equal(clock.pendingTimers, 0);
  });

  it('stop() on a standby touches nothing', async () => {
    const { clock, store, a, b } = await leaderAndStandby();
    await clock.advanceAsync(RETRY);
    const writes = store.writes.length;
    await b.elector.stop();
    assert.equal(store.writes.length, writes);
    assert.deepEqual(b.events, []);
    assert.equal(store.record?.holderIdentity, 'a');
    await a.elector.stop();
  });

  it('stop() during an attempt in flight waits for it, never leads, and gives back what it got', async () => {
    const { clock, store, a } = startedAlone(150);
    await clock.advanceAsync(0); // the read is on its way
    const stopping = a.elector.stop();
    await clock.advanceAsync(1000);
    await stopping;
    assert.deepEqual(a.events, []);
    assert.equal(a.elector.isLeader, false);
    // The create it had started went through; the release hands the lease straight back.
    assert.deepEqual(
      store.writes.map((w) => w.record.holderIdentity),
      ['a', ''],
    );
    await clock.advanceAsync(3 * RETRY);
    assert.equal(clock.pendingTimers, 0);
  });

  it('candidates racing on a slow store never lead at the same time, and one wins', async () => {
    const { clock, store, candidates: all } = election(['a', 'b', 'c'], 150);
    for (const c of all) c.elector.start();
    await run(clock, store, RETRY * 3, all);
    assert.equal(all.filter((c) => c.elector.isLeader).length, 1);

    // Cut the leader off, bring it back, cut the next one off: leadership moves, never doubles.
    for (let round = 0; round < 3; round++) {
      const leader = all.find((c) => c.elector.isLeader);
      assert.ok(leader, `no leader in round ${round}`);
      leader.link.mode = round % 2 === 0 ? 'hang' : 'fail';
      await run(clock, store, LEASE + 3 * RETRY, all);
      leader.link.mode = 'ok';
      await run(clock, store, RENEW + RETRY, all);
      const next = all.find((c) => c.elector.isLeader);
      assert.ok(next && next !== leader, `leadership did not move in round ${round}`);
    }
    // stop() waits for attempts in flight on the slow store, so time has to move meanwhile.
    const stopping = Promise.all(all.map((c) => c.elector.stop()));
    await clock.advanceAsync(RENEW);
    await stopping;
    assert.equal(store.record?.holderIdentity, '');
    await clock.advanceAsync(3 * RETRY);
    assert.equal(clock.pendingTimers, 0, 'a stopped elector still has timers');
  });

  it('stop() called from onStoppedLeading after a missed deadline leaves no timer behind', async () => {
    const clock = new ManualClock();
    const store = new MemoryLeaseStore(clock);
    const link = new Link(store);
    let stopped: Promise<void> | undefined;
    const elector: LeaderElector = new LeaderElector({
      store: link,
      identity: 'a',
      leaseDurationMs: LEASE,
      renewDeadlineMs: RENEW,
      retryPeriodMs: RETRY,
      clock,
      log,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => {
        stopped ??= elector.stop();
      },
    });
    elector.start();
    await clock.advanceAsync(RETRY);
    link.mode = 'fail';
    await clock.advanceAsync(RENEW + RETRY);
    assert.ok(stopped, 'onStoppedLeading was not called');
    await stopped;
    assert.equal(elector.isLeader, false);
    assert.equal(clock.pendingTimers, 0);
  });

  it('rejects timings where the leader could outlive its lease', () => {
    const make = (leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number) =>
      new LeaderElector({
        store: new MemoryLeaseStore(new ManualClock()),
        identity: 'a',
        leaseDurationMs,
        renewDeadlineMs,
        retryPeriodMs,
        log,
        onStartedLeading: () => undefined,
        onStoppedLeading: () => undefined,
      });
    assert.throws(() => make(10_000, 10_000, 2_000), /leaseDuration > renewDeadline/);
    assert.throws(() => make(15_000, 2_000, 2_000), /leaseDuration > renewDeadline/);
    assert.doesNotThrow(() => make(15_000, 10_000, 2_000));
  });
});

describe('kubernetesLeaseStore', () => {
  const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });
  const lease: V1Lease = {
    metadata: { name: 'ekspose-deployment', namespace: 'ekspose', resourceVersion: '42' },
    spec: {
      holderIdentity: 'pod-1',
      leaseDurationSeconds: 15,
      // The generated client hands MicroTime back as a string.
      renewTime: '2025-01-01T00:00:05.123456Z' as unknown as Date,
      acquireTime: new Date('2025-01-01T00:00:00Z'),
      leaseTransitions: 2,
    },
  };

  function fakeApi(handlers: Partial<Record<'read' | 'create' | 'replace', (p: Record<string, unknown>) => Promise<V1Lease>>>) {
    const calls: Array<[string, Record<string, unknown>]> = [];
    const wrap = (name: 'read' | 'create' | 'replace') => (p: Record<string, unknown>) => {
      calls.push([name, p]);
      const handler = handlers[name];
      return handler ? handler(p) : Promise.reject(new Error(`unexpected ${name}`));
    };
    const api = {
      readNamespacedLease: wrap('read'),
      createNamespacedLease: wrap('create'),
      replaceNamespacedLease: wrap('replace'),
    } as unknown as CoordinationV1Api;
    return { api, calls };
  }

  it('reads a lease into a record, and a missing one as null', async () => {
    const { api, calls } = fakeApi({ read: async () => lease });
    const record = await kubernetesLeaseStore(api, 'ekspose', 'ekspose-deployment').get();
    assert.deepEqual(calls, [['read', { name: 'ekspose-deployment', namespace: 'ekspose' }]]);
    assert.equal(record?.holderIdentity, 'pod-1');
    assert.equal(record?.renewTime?.toISOString(), '2025-01-01T00:00:05.123Z');
    assert.equal(record?.acquireTime?.toISOString(), '2025-01-01T00:00:00.000Z');
    assert.equal(record?.leaseTransitions, 2);
    assert.equal(record?.resourceVersion, '42');

    const missing = fakeApi({ read: () => Promise.reject(apiError(404)) });
    assert.equal(await kubernetesLeaseStore(missing.api, 'ekspose', 'x').get(), null);
    const broken = fakeApi({ read: () => Promise.reject(apiError(500)) });
    await assert.rejects(kubernetesLeaseStore(broken.api, 'ekspose', 'x').get(), /HTTP 500/);
  });

  it('replaces with the resourceVersion and microsecond times, mapping 409 to a conflict', async () => {
    const { api, calls } = fakeApi({ replace: async (p) => ({ ...(p.body as V1Lease), metadata: { resourceVersion: '43' } }) });
    const store = kubernetesLeaseStore(api, 'ekspose', 'ekspose-deployment');
    const written = await store.update({
      holderIdentity: 'pod-2',
      leaseDurationSeconds: 15,
      renewTime: new Date('2025-01-01T00:00:07.5Z'),
      acquireTime: new Date('2025-01-01T00:00:07.5Z'),
      leaseTransitions: 3,
      resourceVersion: '42',
    });
    const [name, params] = calls[0];
    assert.equal(name, 'replace');
    assert.equal(params.name, 'ekspose-deployment');
    assert.equal(params.namespace, 'ekspose');
    const body = JSON.parse(JSON.stringify(params.body));
    assert.equal(body.metadata.resourceVersion, '42');
    assert.equal(body.spec.holderIdentity, 'pod-2');
    // The API server parses MicroTime with exactly six fractional digits.
    assert.equal(body.spec.renewTime, '2025-01-01T00:00:07.500000Z');
    assert.equal(written.resourceVersion, '43');

    const conflicted = fakeApi({ replace: () => Promise.reject(apiError(409)) });
    await assert.rejects(kubernetesLeaseStore(conflicted.api, 'ekspose', 'x').update({ resourceVersion: '1' }), LeaseConflictError);
  });

  it('creates without a resourceVersion, mapping 409 to a conflict', async () => {
    const { api, calls } = fakeApi({ create: async (p) => p.body as V1Lease });
    await kubernetesLeaseStore(api, 'ekspose', 'ekspose-deployment').create({ holderIdentity: 'pod-1', resourceVersion: '5' });
    const params = calls[0][1];
    assert.equal(params.namespace, 'ekspose');
    assert.equal((params.body as V1Lease).metadata?.resourceVersion, undefined);
    assert.equal((params.body as V1Lease).metadata?.name, 'ekspose-deployment');

    const exists = fakeApi({ create: () => Promise.reject(apiError(409)) });
    await assert.rejects(kubernetesLeaseStore(exists.api, 'ekspose', 'x').create({}), LeaseConflictError);
    const refused = fakeApi({ create: () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) });
    await assert.rejects(kubernetesLeaseStore(refused.api, 'ekspose', 'x').create({}), (e) => !(e instanceof LeaseConflictError));
  });
});
