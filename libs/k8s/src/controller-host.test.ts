// The SIGTERM path (DESIGN §5): stop taking work, finish what is in flight,
// release the Lease, stop the informers and run the shutdown hook.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ControllerHost, type HostedInformer } from './controller-host';
import type { KubeClients } from './kube-client';
import { type LeaseRecord, type LeaseStore, LeaseConflictError } from './lease-record';
import { createControllerMetrics } from './metrics';
import { processSettings } from './process-settings';
import { WorkQueue } from './work-queue';

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

describe('ControllerHost shutdown', () => {
  it('stops taking work, finishes the reconcile in flight, releases the Lease, stops informers, then runs the hook', async () => {
    const loaded = processSettings.load({
      EKSPOSE_HEALTH_PORT: '0',
      EKSPOSE_METRICS_PORT: '0',
      EKSPOSE_METRICS_SECURE: 'false',
      EKSPOSE_BIND_ADDRESS: '127.0.0.1',
      EKSPOSE_WORKERS: '1',
      POD_NAME: 'replica-a',
    });
    assert.ok(loaded.ok);
    const log = pino({ level: 'silent' });
    const registry = new Registry();
    const metrics = createControllerMetrics(registry, 'test-controller');
    const store = new MemoryLeaseStore();
    const { informer, state } = fakeInformer('things');
    const queue = new WorkQueue({ name: 'test-controller', workers: 1, log, metrics });
    const started: string[] = [];
    const finished: string[] = [];
    const gate = deferred();
    const order: string[] = [];
    const host = new ControllerHost({
      name: 'test-controller',
      settings: loaded.settings,
      log,
      registry,
      metrics,
      clients: {} as KubeClients,
      informers: [informer],
      queue,
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
    const leader = (await registry.getSingleMetric('ekspose_leader')?.get())?.values[0]?.value;
    assert.equal(leader, 0);
  });
});
