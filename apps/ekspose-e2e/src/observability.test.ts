// docs/design.md §5, operations: /healthz and /readyz on the health port, /metrics on
// the metrics port, as a kubelet and a Prometheus see them, for the built
// controllers against a real plane; NATS and the API server go away for real.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from './support/poll';
import { type MetricsPage, hasSample, sampleSum } from '@ekspose/testing';
import { type AppName, type ControllerProcess, type ProbeBody, TestEnv } from './support/test-env';

let env: TestEnv;
let procs: ControllerProcess[];

before(async () => {
  env = await TestEnv.start();
  procs = await env.startAll();
  await env.createNamespace('obs');
});

after(async () => {
  await env?.stop();
});

function proc(app: AppName): ControllerProcess {
  const found = procs.find((p) => p.app === app);
  assert.ok(found, `a ${app} replica`);
  return found;
}

interface ReadyDetails {
  leader?: boolean;
  nats?: { connected?: boolean; lastError?: string };
  informers?: Record<string, { synced?: boolean }>;
}
const readyDetails = (body: ProbeBody) => body.details as ReadyDetails;

/** Polls every replica until `check` holds for its page, and returns the pages. */
function metricsOn(targets: ControllerProcess[], check: (page: MetricsPage, p: ControllerProcess) => boolean, what: string, timeoutMs = 15_000) {
  return Promise.all(
    targets.map((p) =>
      eventually(
        async () => {
          const page = await env.scrape(p);
          return check(page, p) ? page : undefined;
        },
        { timeoutMs, what: `${p.identity}: ${what}` },
      ),
    ),
  );
}

describe('probes', () => {
  it('/healthz answers 200; /readyz answers 200 with leader and NATS state once the caches synced', async () => {
    for (const p of procs) {
      const health = await env.probeJson(p, '/healthz');
      assert.equal(health.status, 200, `${p.identity} /healthz`);
      assert.equal(health.body.ok, true);
      const ready = await eventually(
        async () => {
          const r = await env.probeJson(p, '/readyz');
          return r.status === 200 && readyDetails(r.body).nats?.connected === true ? r : undefined;
        },
        { timeoutMs: 15_000, what: `${p.identity} ready and connected to NATS` },
      );
      const details = readyDetails(ready.body);
      assert.equal(ready.body.ok, true);
      assert.equal(details.leader, true, `${p.identity} leads (one replica per app)`);
      const informers = Object.entries(details.informers ?? {});
      assert.ok(informers.length >= 2, `${p.identity} lists its informers: ${JSON.stringify(details.informers)}`);
      for (const [resource, s] of informers) assert.equal(s.synced, true, `${p.identity} ${resource} synced`);
    }
  });

  it('answer 404 for other paths and 405 for writes, on either port', async () => {
    const p = proc('service-controller');
    assert.equal((await env.probe(p, '/nope')).status, 404);
    const res = await fetch(`http://127.0.0.1:${p.healthPort}/healthz`, { method: 'POST' });
    assert.equal(res.status, 405);
    const metrics = await fetch(`http://127.0.0.1:${p.metricsPort}/healthz`);
    assert.equal(metrics.status, 404, 'probes are not on the metrics port');
  });
});

describe('/metrics', () => {
  it('exposes the controller metrics, every one prefixed ekspose_', async () => {
    for (const p of procs) {
      const page = await env.scrape(p);
      const families = [...page.types.keys()];
      assert.deepEqual(
        families.filter((f) => !f.startsWith('ekspose_')),
        [],
        `${p.identity}: metric families without the ekspose_ prefix`,
      );
      const expected: Record<string, string> = {
        ekspose_reconcile_total: 'counter',
        ekspose_reconcile_duration_seconds: 'histogram',
        ekspose_queue_depth: 'gauge',
        ekspose_queue_retries_total: 'counter',
        ekspose_nats_publishes_total: 'counter',
        ekspose_nats_connected: 'gauge',
        ekspose_leader: 'gauge',
      };
      for (const [name, type] of Object.entries(expected)) assert.equal(page.types.get(name), type, `${p.identity}: # TYPE ${name}`);
      const controller = p.app;
      for (const result of ['done', 'requeue', 'error', 'terminal']) {
        assert.ok(hasSample(page, 'ekspose_reconcile_total', { controller, result }), `${p.identity}: reconcile_total{result="${result}"}`);
      }
      assert.ok(hasSample(page, 'ekspose_queue_depth', { controller }), `${p.identity}: queue_depth`);
      assert.ok(hasSample(page, 'ekspose_queue_retries_total', { controller }), `${p.identity}: queue_retries_total`);
      assert.equal(sampleSum(page, 'ekspose_leader', { controller }), 1, `${p.identity}: ekspose_leader`);
      assert.equal(sampleSum(page, 'ekspose_nats_connected'), 1, `${p.identity}: ekspose_nats_connected`);
    }
  });

  it('counts the reconcile, the writes and the NATS publish of a new Deployment on the deployment-controller', async () => {
    const dc = proc('deployment-controller');
    const before = await env.scrape(dc);
    const done = sampleSum(before, 'ekspose_reconcile_total', { result: 'done' });
    const durations = sampleSum(before, 'ekspose_reconcile_duration_seconds_count', { result: 'done' });
    const svcCreates = sampleSum(before, 'ekspose_objects_written_total', { kind: 'service', action: 'create' });
    const ingCreates = sampleSum(before, 'ekspose_objects_written_total', { kind: 'ingress', action: 'create' });
    const published = sampleSum(before, 'ekspose_nats_publishes_total', { kind: 'deployment.exposed', result: 'ok' });

    await env.createDeployment('obs', 'counted', { labels: { ingReq: 'needed' } });
    await env.waitForService('obs', 'counted');
    await env.waitForIngress('obs', 'counted');

    await metricsOn(
      [dc],
      (page) =>
        sampleSum(page, 'ekspose_reconcile_total', { result: 'done' }) > done &&
        sampleSum(page, 'ekspose_reconcile_duration_seconds_count', { result: 'done' }) > durations &&
        sampleSum(page, 'ekspose_objects_written_total', { kind: 'service', action: 'create' }) === svcCreates + 1 &&
        sampleSum(page, 'ekspose_objects_written_total', { kind: 'ingress', action: 'create' }) === ingCreates + 1 &&
        sampleSum(page, 'ekspose_nats_publishes_total', { kind: 'deployment.exposed', result: 'ok' }) === published + 1,
      'reconcile_total{done}, reconcile_duration_seconds, objects_written_total{service,ingress create} and nats_publishes_total{deployment.exposed,ok} to move',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${env.logs()}`);
    });
  });
});

describe('NATS going away', () => {
  it('sets ekspose_nats_connected to 0 and keeps /readyz 200 with nats.connected false; back to 1 when it returns', async () => {
    await env.plane.stopNats();
    try {
      await metricsOn(procs, (page) => sampleSum(page, 'ekspose_nats_connected') === 0, 'ekspose_nats_connected 0');
      for (const p of procs) {
        const ready = await env.probeJson(p, '/readyz');
        assert.equal(ready.status, 200, `${p.identity} stays ready without NATS`);
        assert.equal(readyDetails(ready.body).nats?.connected, false, `${p.identity} /readyz details.nats.connected`);
        assert.equal((await env.probeJson(p, '/healthz')).status, 200, `${p.identity} stays live without NATS`);
      }

      // Still working, and the publish it could not make is counted as such.
      const dc = proc('deployment-controller');
      const unavailable = sampleSum(await env.scrape(dc), 'ekspose_nats_publishes_total', { kind: 'deployment.exposed', result: 'unavailable' });
      await env.createDeployment('obs', 'no-nats');
      await env.waitForService('obs', 'no-nats');
      await metricsOn(
        [dc],
        (page) => sampleSum(page, 'ekspose_nats_publishes_total', { kind: 'deployment.exposed', result: 'unavailable' }) === unavailable + 1,
        'nats_publishes_total{deployment.exposed,unavailable} to move',
      );
    } finally {
      await env.plane.startNats();
    }
    await metricsOn(procs, (page) => sampleSum(page, 'ekspose_nats_connected') === 1, 'ekspose_nats_connected back to 1', 20_000);
    for (const p of procs) {
      const ready = await env.probeJson(p, '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(readyDetails(ready.body).nats?.connected, true, `${p.identity} /readyz details.nats.connected`);
    }
  });
});

interface HealthDetails {
  eventLoopStalledMs?: number;
}
const healthDetails = (body: ProbeBody) => body.details as HealthDetails;

// The host's fixed tolerance (ControllerHost default; no setting changes it).
// What an API server outage does to the probes is outage.test.ts's.
const EVENT_LOOP_STALL_TOLERANCE_MS = 10_000;

describe('liveness', () => {
  it('/healthz fails after the event loop was stuck longer than its tolerance', async () => {
    // A standby, so that the stall cannot cost the leaders' Leases.
    const standby = await env.startController('service-controller');
    assert.equal((await env.probeJson(standby, '/healthz')).status, 200);
    const stoppedAt = Date.now();
    assert.ok(standby.handle.signal('SIGSTOP'));
    try {
      // A stopped process cannot answer at all; that is the kubelet's probe timeout's case.
      await eventually(() => Date.now() - stoppedAt > EVENT_LOOP_STALL_TOLERANCE_MS + 1000, {
        timeoutMs: EVENT_LOOP_STALL_TOLERANCE_MS + 5000,
        intervalMs: 250,
        what: 'the stall to outlast the tolerance',
      });
    } finally {
      standby.handle.signal('SIGCONT');
    }
    // Once it answers again, it remembers the stall and asks to be restarted.
    const health = await eventually(
      async () => {
        const h = await env.probeJson(standby, '/healthz');
        return h.status === 0 ? undefined : h;
      },
      { timeoutMs: 30_000, what: `${standby.identity} to answer again` },
    );
    assert.equal(health.status, 503, `${standby.identity} /healthz after a stall: ${JSON.stringify(health.body)}`);
    assert.ok((healthDetails(health.body).eventLoopStalledMs ?? 0) > EVENT_LOOP_STALL_TOLERANCE_MS);
    const ready = await env.probeJson(standby, '/readyz');
    assert.equal(ready.status, 200, `readiness is not liveness: ${JSON.stringify(ready.body)}\n${standby.handle.logTail(10)}`);
    await standby.handle.kill();
  });
});
