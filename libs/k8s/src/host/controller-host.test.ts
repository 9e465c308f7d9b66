// The SIGTERM path (docs/design.md §5.4): stop taking work, finish what is in flight,
// release the Lease, stop the informers and run the shutdown hook.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ControllerHost, type HostedInformer } from './controller-host';
import type { KubeClients } from '../api/kube-client';
import { type LeaseRecord, type LeaseStore, LeaseConflictError } from '../lease/lease-record';
import { createControllerMetrics } from '../metrics/metrics';
import { processSettings } from '../process/process-settings';
import { WorkQueue } from '../queue/work-queue';
import type { MemberStore } from '../shards/member-leases';
import type { MemberLease } from '../shards/shard-members';

class MemoryLeaseStore implements LeaseStore {
  record: LeaseRecord | null = null;
  private version = 0;
  async get() {
    return this.record && { ...this.record };
  }
  async create(record: LeaseRecord) {
    if (this.record) throw new LeaseConflictError('already exists');
    return this.write(record);
  }
  async update(record: LeaseRecord) {
    if (record.resourceVersion !== this.record?.resourceVersion) throw new LeaseConflictError('stale');
    return this.write(record);
  }
  private write(record: LeaseRecord) {
    this.record = { ...record, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
}

function fakeInformer(resource: string) {
  const state = { started: false, stopped: false };
  const informer: HostedInformer = {
    start: () => void (state.started = true),
    waitForSync: async () => undefined,
    status: () => ({ resource, running: state.started && !state.stopped, synced: true, objects: 0, restarts: 0 }),
    stop: async () => void (state.stopped = true),
  };
  return { informer, state };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Process settings for a host on free ports, plain-HTTP metrics, and `extra` on top. */
function hostSettings(extra: Record<string, string> = {}) {
  const loaded = processSettings.load({
    EKSPOSE_HEALTH_PORT: '0',
    EKSPOSE_METRICS_PORT: '0',
    EKSPOSE_METRICS_SECURE: 'false',
    EKSPOSE_BIND_ADDRESS: '127.0.0.1',
    POD_NAME: 'replica-a',
    ...extra,
  });
  assert.ok(loaded.ok);
  return loaded.settings;
}

/** What every host of these tests shares: a silent log, its own registry and metrics, a one-worker queue, no API clients. */
function hostBasics(settings: ReturnType<typeof hostSettings>) {
  const log = pino({ level: 'silent' });
  const registry = new Registry();
  const metrics = createControllerMetrics(registry, 'test-controller');
  const queue = new WorkQueue({ name: 'test-controller', workers: 1, log, metrics });
  return { queue, metrics, options: { name: 'test-controller', settings, log, registry, metrics, clients: {} as KubeClients, queue } };
}

describe('ControllerHost shutdown', () => {
  it('stops taking work, finishes the reconcile in flight, releases the Lease, stops informers, then runs the hook', async () => {
    const { queue, options } = hostBasics(hostSettings({ EKSPOSE_WORKERS: '1' }));
    const store = new MemoryLeaseStore();
    const { informer, state } = fakeInformer('things');
    const started: string[] = [];
    const finished: string[] = [];
    const gate = deferred();
    const order: string[] = [];
    const host = new ControllerHost({
      ...options,
      informers: [informer],
      reconcile: async (key) => {
        started.push(key);
        if (key === 'ns/first') await gate.promise;
        finished.push(key);
        return { kind: 'done' };
      },
      resyncKeys: () => ['ns/first', 'ns/second'],
      leaseStore: store,
      onShutdown: async () => void order.push(`hook (lease holder '${store.record?.holderIdentity}', informers stopped ${state.stopped})`),
      exit: () => assert.fail('must not exit on an orderly stop'),
    });
    await host.start();
    await until('leading', () => host.isLeader);
    assert.equal(store.record?.holderIdentity, 'replica-a');
    await until('the first reconcile to start', () => started.includes('ns/first'));

    const stopping = host.stop('SIGTERM');
    queue.add('ns/late');
    assert.equal(host.readyz().ok, false, 'not ready while stopping');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(finished, [], 'the stop waits for the reconcile in flight');
    gate.resolve();
    await stopping;

    assert.deepEqual(finished, ['ns/first'], 'in-flight work finished; nothing new was started');
    assert.ok(!started.includes('ns/late') && !started.includes('ns/second'));
    assert.equal(store.record?.holderIdentity, '', 'the Lease is released for a standby');
    assert.equal(store.record?.leaseDurationSeconds, 1);
    assert.deepEqual(order, ["hook (lease holder '', informers stopped true)"], 'the hook (NATS drain) runs last');
    assert.equal(host.isLeader, false);
    const leader = (await options.registry.getSingleMetric('ekspose_leader')?.get())?.values[0]?.value;
    assert.equal(leader, 0);
  });
});

/** A Lease store that can be cut off, as an unreachable API server is. */
class FlakyLeaseStore extends MemoryLeaseStore {
  down = false;
  private check() {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
  }
  override async get() {
    this.check();
    return super.get();
  }
  override async create(record: LeaseRecord) {
    this.check();
    return super.create(record);
  }
  override async update(record: LeaseRecord) {
    this.check();
    return super.update(record);
  }
}

/** What a one-worker host under test needs beside its stores: settings with these lease timings, a silent log, metrics. */
function leaseTimedHost(durationSeconds: string, renewDeadlineSeconds: string) {
  const settings = hostSettings({
    EKSPOSE_WORKERS: '1',
    EKSPOSE_LEASE_DURATION_SECONDS: durationSeconds,
    EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: renewDeadlineSeconds,
    EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '0.05',
  });
  const log = pino({ level: 'silent' });
  const registry = new Registry();
  const metrics = createControllerMetrics(registry, 'test-controller');
  const queue = new WorkQueue({ name: 'test-controller', workers: 1, log, metrics });
  return { settings, log, registry, metrics, queue };
}

describe('ControllerHost through a control-plane outage', () => {
  it('a leader that loses its Lease stands by (no exit, queue dropped, informers kept, live and ready) and leads again', async () => {
    const settings = hostSettings({
      EKSPOSE_WORKERS: '1',
      EKSPOSE_LEASE_DURATION_SECONDS: '0.6',
      EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '0.4',
      EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '0.05',
    });
    const { queue, options } = hostBasics(settings);
    const store = new FlakyLeaseStore();
    const { informer, state } = fakeInformer('things');
    const reconciled: string[] = [];
    const terms: string[] = [];
    const host = new ControllerHost({
      ...options,
      informers: [informer],
      reconcile: async (key) => {
        reconciled.push(key);
        return { kind: 'requeueAfter', delayMs: 60_000 };
      },
      resyncKeys: () => ['ns/a'],
      leaseStore: store,
      onStartedLeading: () => void terms.push('started'),
      onStoppedLeading: () => void terms.push(`stopped (queue running ${queue.isRunning})`),
      exit: () => assert.fail('a lost Lease must not end the process'),
    });
    try {
      await host.start();
      await until('leading', () => host.isLeader && reconciled.length === 1);
      assert.equal(queue.held, 1, 'the requeued key is held while leading');

      store.down = true;
      await until('standing by', () => terms.length === 2, 3000);
      assert.deepEqual(terms, ['started', 'stopped (queue running false)']);
      assert.equal(host.isLeader, false);
      assert.equal(queue.held, 0, 'the queue is dropped');
      queue.add('ns/while-standing-by');
      assert.equal(queue.held, 0, 'a standby takes no keys');
      assert.equal(state.stopped, false, 'informers are kept');
      assert.equal(host.healthz().ok, true, 'alive: liveness does not depend on the API server');
      const ready = host.readyz();
      assert.equal(ready.ok, true, `a Lease it cannot read does not make it unready: ${JSON.stringify(ready.details)}`);
      assert.match(String((ready.details as { lease?: string }).lease), /cannot read the Lease: .*ECONNREFUSED/);

      store.down = false;
      await until('leading again', () => host.isLeader && reconciled.length === 2, 3000);
      assert.deepEqual(terms, ['started', 'stopped (queue running false)', 'started']);
      assert.deepEqual(reconciled, ['ns/a', 'ns/a'], 'a new term starts from a full resync');
    } finally {
      await host.stop();
    }
  });

  it('liveness ignores informers; readiness fails once one has been failing past the tolerance, and says which', async () => {
    const settings = hostSettings({ EKSPOSE_LEADER_ELECT: 'false', EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS: '120' });
    const registry = new Registry();
    const failingSince = { at: undefined as number | undefined };
    const informer: HostedInformer = {
      start: () => undefined,
      waitForSync: async () => undefined,
      status: () => ({ resource: 'things', running: true, synced: true, objects: 0, restarts: 3, failingSince: failingSince.at, lastError: failingSince.at ? 'list: ECONNREFUSED' : undefined }),
      stop: async () => undefined,
    };
    const host = new ControllerHost({
      name: 'test-controller',
      settings,
      log: pino({ level: 'silent' }),
      registry,
      metrics: createControllerMetrics(registry, 'test-controller'),
      clients: {} as KubeClients,
      informers: [informer],
      queue: new WorkQueue({ name: 'test-controller', workers: 1 }),
      reconcile: async () => ({ kind: 'done' }),
      resyncKeys: () => [],
    });
    failingSince.at = Date.now() - 60_000;
    assert.equal(host.readyz().ok, true, 'within the tolerance');
    failingSince.at = Date.now() - 121_000;
    const ready = host.readyz();
    assert.equal(ready.ok, false);
    assert.deepEqual((ready.details as { failing?: string[] }).failing, ['things']);
    assert.equal(host.healthz().ok, true, 'never a reason to restart');
    const gauge = (await registry.getSingleMetric('ekspose_informer_failing_seconds')?.get())?.values[0];
    assert.deepEqual(gauge?.labels, { controller: 'test-controller', resource: 'things' });
    assert.ok((gauge?.value ?? 0) >= 121, `ekspose_informer_failing_seconds ${gauge?.value}`);
  });
});

describe('ControllerHost switching from shards to one leader', () => {
  it('a new leader works only once no live sharded replica holds or claims a range: a claim could still become a hold', async () => {
    const settings = hostSettings({ EKSPOSE_WORKERS: '1', EKSPOSE_LEASE_DURATION_SECONDS: '3', EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '2', EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '0.05' });
    const { queue, options } = hostBasics(settings);
    // A sharded replica that renews its member Lease (a new version at every list) and claims range 1, holding nothing yet.
    let version = 0;
    let member: Omit<MemberLease, 'version'> = { identity: 'sharded-b', name: 'ekspose-test-controller-member-b', shards: 4, held: [], claimed: [1], leaseDurationMs: 3_000, released: false };
    const members: MemberStore = {
      list: async () => [{ ...member, version: String(++version) }],
      write: async () => undefined,
      remove: async () => undefined,
      removeStale: async () => undefined,
    };
    const reconciled: string[] = [];
    const host = new ControllerHost({
      ...options,
      informers: [fakeInformer('things').informer],
      reconcile: async (key) => {
        reconciled.push(key);
        return { kind: 'done' };
      },
      resyncKeys: () => ['ns/a'],
      leaseStore: new MemoryLeaseStore(),
      memberStore: members,
    });
    try {
      await host.start();
      await until('leading', () => host.isLeader);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(queue.isRunning, false, 'works beside a replica whose claim may turn into a hold');
      assert.deepEqual(reconciled, []);
      // The sharded replica sees the leader Lease and withdraws its claim.
      member = { ...member, claimed: [] };
      await until('working', () => reconciled.length === 1, 3000);
    } finally {
      await host.stop();
    }
  });
});

/** Member Leases under the Role of shards 1, which grants no list: every list is refused, as the API server would. */
class RefusedMemberStore implements MemberStore {
  lists: number[] = [];
  writes = 0;
  async list(): Promise<MemberLease[]> {
    this.lists.push(Date.now());
    throw Object.assign(new Error('leases is forbidden: User "system:serviceaccount:ekspose:x" cannot list resource "leases"'), { code: 403 });
  }
  // A leader at shards 1 never writes member Leases; counted, so a test would see one.
  async write() {
    this.writes++;
  }
  async remove() {
    this.writes++;
  }
  async removeStale() {
    this.writes++;
  }
}

describe('ControllerHost at shards 1 where Leases cannot be listed (a roll from N shards to 1 narrows the Role at once)', () => {
  // A sharded replica of the old Role can no longer renew its member Lease from the moment the
  // Role narrowed, before the first refusal; it writes on until its renew deadline passes.
  const run = async (held: LeaseRecord | null) => {
    const { settings, log, registry, metrics, queue } = leaseTimedHost('1.5', '1');
    const store = new MemoryLeaseStore();
    if (held) await store.create(held);
    const members = new RefusedMemberStore();
    const reconciled: number[] = [];
    const host = new ControllerHost({
      name: 'test-controller',
      settings,
      log,
      registry,
      metrics,
      clients: {} as KubeClients,
      informers: [fakeInformer('things').informer],
      queue,
      reconcile: async () => {
        reconciled.push(Date.now());
        return { kind: 'done' };
      },
      resyncKeys: () => ['ns/a'],
      leaseStore: store,
      memberStore: members,
      exit: () => assert.fail('must not exit'),
    });
    try {
      await host.start();
      await until('leading', () => host.isLeader, 5000);
      const ledAt = Date.now();
      await until('working', () => reconciled.length > 0, 5000);
      assert.equal(members.writes, 0, 'no member Lease written');
      return { firstRefusal: members.lists[0] ?? 0, ledAt, workedAt: reconciled[0] ?? 0 };
    } finally {
      await host.stop();
    }
  };

  it('a new leader works only once a renew deadline has passed since the first refusal', async () => {
    const { firstRefusal, ledAt, workedAt } = await run(null);
    assert.ok(firstRefusal > 0 && firstRefusal <= ledAt + 100, 'the list was tried when the term began, or before');
    assert.ok(workedAt - firstRefusal >= 1000, `worked ${workedAt - firstRefusal} ms after the first refusal, within the renew deadline (1000 ms)`);
  });

  it('a standby that heard the refusal when it started, longer than a renew deadline ago, works as soon as it leads', async () => {
    const { firstRefusal, ledAt, workedAt } = await run({ holderIdentity: 'replica-b', leaseDurationSeconds: 1.5, acquireTime: new Date(), renewTime: new Date() });
    assert.ok(ledAt - firstRefusal >= 1000, `the refusal was heard at start, ${ledAt - firstRefusal} ms before leading`);
    assert.ok(workedAt - ledAt < 500, `worked ${workedAt - ledAt} ms after it led`);
  });
});
