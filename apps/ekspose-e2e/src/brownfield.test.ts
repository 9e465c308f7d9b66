// Adopting ekspose into a cluster that already has life in it, on the real
// plane: Services of the Deployments' names made by someone else (a Helm
// chart), Deployments applied in one batch that want one host, and standbys
// that must stay idle while the leader works. Each case prints its figures.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1Ingress } from '@kubernetes/client-node';
import { mergePatchOptions } from '@ekspose/k8s';
import { apiRequests, inParallel, requestDelta } from '@ekspose/testing';
import { consistently, eventually } from './support/poll';
import { type ControllerProcess, TestEnv, deploymentManifest } from './support/test-env';

let env: TestEnv;

before(async () => {
  // More Services than the harness's /24 of ClusterIPs holds (253); later flags win.
  env = await TestEnv.start({ apiserverExtraArgs: ['--service-cluster-ip-range=10.0.0.0/16'] });
});

after(async () => {
  await env?.stop();
});

const isOurs = (labels: Record<string, string> | undefined) => labels?.['app.kubernetes.io/managed-by'] === 'ekspose';

interface Bookkeeping {
  queueHeld?: number;
  leader?: boolean;
  bookkeeping?: Record<string, number>;
}

async function details(p: ControllerProcess): Promise<Bookkeeping> {
  return (await env.probeJson(p, '/readyz')).body.details as Bookkeeping;
}


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

describe('names held by objects ekspose does not own', () => {
  const NS = 'helm-made';
  const N = 200;
  const HOLD_MS = 60_000;
  const names = Array.from({ length: N }, (_, i) => `app-${String(i).padStart(3, '0')}`);

  it(`${N} Helm-made Services of the Deployments' names cost no API request while they stand (${HOLD_MS / 1000} s), and each name is taken once its Service goes`, { timeout: 300_000 }, async () => {
    await env.createNamespace(NS);
    // The cluster as ekspose finds it: a chart's Service per Deployment, there before ekspose is installed.
    await inParallel(names, 20, (name) =>
      env.clients.core.createNamespacedService({
        namespace: NS,
        body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'Helm' } }, spec: { selector: { app: name }, ports: [{ port: 8080 }] } },
      }),
    );
    await inParallel(names, 20, (name) => env.createDeployment(NS, name));
    const [deploymentController, serviceController] = await Promise.all([env.startController('deployment-controller'), env.startController('service-controller')]);
    await Promise.all([deploymentController, serviceController].map((p) => p.handle.waitForLog('started leading', { timeoutMs: 30_000 })));
    await eventually(async () => (await details(deploymentController)).bookkeeping?.nameConflicts === N, {
      timeoutMs: 60_000,
      what: `the deployment-controller to hold ${N} name conflicts`,
    });
    await env.waitForEvent(NS, names[0]!, 'ServiceConflict');

    // The window: the conflicts stand, and a new service-controller leader starts over them (its start-up resync).
    const before = await apiRequests(env.plane);
    await serviceController.handle.stop(12_000);
    const successor = await env.startController('service-controller');
    await successor.handle.waitForLog('started leading', { timeoutMs: 30_000 });
    await sleep(HOLD_MS);
    const during = requestDelta(await apiRequests(env.plane), before);
    const cost = (key: string) => during.get(key) ?? 0;
    process.stderr.write(
      `[brownfield] ${N} conflicts held for ${HOLD_MS / 1000} s: POST services ${cost('POST services')}, GET services ${cost('GET services')}; ` +
        `all requests: ${JSON.stringify(Object.fromEntries([...during].sort((a, b) => b[1] - a[1])))}\n`,
    );
    assert.equal(cost('POST services'), 0, 'no create that the API server refuses with 409');
    assert.equal(cost('GET services'), 0, 'no read of a Service to find out whose it is');
    for (const name of names.slice(0, 5)) {
      const svc = await env.getService(NS, name);
      assert.equal(svc?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'Helm', `${name} untouched`);
    }
    const warnings = (await env.eventsFor(NS, names[0]!)).filter((e) => e.reason === 'ServiceConflict');
    assert.equal(warnings.length, 1, 'one Warning, not one per look');

    // The chart goes: every name is taken, each soon after its Service is gone.
    const goneAt = new Map<string, number>();
    await inParallel(names, 20, async (name) => {
      await env.clients.core.deleteNamespacedService({ namespace: NS, name });
      goneAt.set(name, Date.now());
    });
    const takenAfter: number[] = [];
    await eventually(
      async () => {
        const list = await env.clients.core.listNamespacedService({ namespace: NS });
        const ours = new Map(list.items.filter((s) => isOurs(s.metadata?.labels)).map((s) => [s.metadata!.name!, s.metadata!.creationTimestamp!]));
        if (ours.size < N) return false;
        for (const [name, created] of ours) takenAfter.push(Math.max(0, new Date(created).getTime() - goneAt.get(name)!));
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `ekspose to take all ${N} names` },
    );
    takenAfter.sort((a, b) => a - b);
    // creationTimestamp has whole seconds: these are upper bounds to the second.
    process.stderr.write(
      `[brownfield] names taken after the foreign Service's deletion (to the second): p50 ${percentile(takenAfter, 50)} ms, p90 ${percentile(takenAfter, 90)} ms, max ${takenAfter.at(-1)} ms\n`,
    );
    assert.equal((await details(deploymentController)).bookkeeping?.nameConflicts, 0, 'nothing kept once the names are taken');
  });
});

describe('host claims', () => {
  const NS = 'one-apply';
  const HOST = 'shared.one-apply.e2e.test';
  const annotations = { 'ekspose.io/host': HOST };
  let deploymentController: ControllerProcess;

  before(async () => {
    await env.createNamespace(NS);
    await env.stopControllers();
    env.controllers.length = 0;
    [deploymentController] = await env.startAll();
  });

  const ingressesOnHost = async () =>
    (await env.clients.networking.listNamespacedIngress({ namespace: NS })).items.filter((i: V1Ingress) => i.spec?.rules?.some((r) => r.host === HOST));

  it('two Deployments on one host in one kubectl apply: exactly one Ingress, HostConflict on the other; the waiter gets the host when the holder moves', async () => {
    const manifest = join(env.plane.dir, 'one-apply.json');
    const both: V1Deployment[] = ['blue', 'green'].map((name) => deploymentManifest(NS, name, { labels: { ingReq: 'needed' }, annotations }));
    writeFileSync(manifest, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: both }));
    const applied = await env.plane.kubectl(['apply', '-f', manifest]);
    assert.equal(applied.code, 0, applied.stderr);

    const holder = await eventually(async () => (await ingressesOnHost())[0]?.metadata?.name, { what: 'an Ingress on the shared host' });
    const waiter = holder === 'blue' ? 'green' : 'blue';
    const warning = await env.waitForEvent(NS, waiter, 'HostConflict');
    assert.match(warning.message ?? '', new RegExp(`${NS}/${holder}`));
    await consistently(async () => (await ingressesOnHost()).length === 1, 5000, 'exactly one Ingress on the host');
    assert.equal(await env.getIngress(NS, waiter), undefined);

    // The holder moves to another host: the waiter's Ingress follows, from the holder's patch, not a resync.
    const movedAt = Date.now();
    await env.clients.apps.patchNamespacedDeployment(
      { namespace: NS, name: holder, body: { metadata: { annotations: { 'ekspose.io/host': `moved.${NS}.e2e.test` } } } },
      mergePatchOptions(),
    );
    await env.waitForIngress(NS, waiter, (i) => i.spec?.rules?.[0]?.host === HOST, 20_000);
    process.stderr.write(`[brownfield] the waiter had the host ${Date.now() - movedAt} ms after the holder moved (goal: 2 s)\n`);
    assert.equal((await ingressesOnHost()).length, 1);

    // The new holder drops ingReq; a third Deployment waiting for the host gets it; a waiter deleted leaves nothing.
    await env.createDeployment(NS, 'third', { labels: { ingReq: 'needed' }, annotations });
    await env.createDeployment(NS, 'fourth', { labels: { ingReq: 'needed' }, annotations });
    await env.waitForEvent(NS, 'third', 'HostConflict');
    await env.waitForEvent(NS, 'fourth', 'HostConflict');
    await env.deleteDeployment(NS, 'fourth');
    const droppedAt = Date.now();
    await env.patchDeploymentLabels(NS, waiter, { ingReq: null });
    await env.waitForIngress(NS, 'third', (i) => i.spec?.rules?.[0]?.host === HOST, 20_000);
    process.stderr.write(`[brownfield] the next waiter had the host ${Date.now() - droppedAt} ms after the holder dropped ingReq\n`);
    await eventually(async () => (await details(deploymentController)).bookkeeping?.hostWaiters === 0, {
      timeoutMs: 10_000,
      what: 'no waiter kept once every Deployment has its host or is gone',
    });
  });
});

describe('standbys', () => {
  const NS = 'churn';
  const N = 1000;

  it(`a standby keeps no key, tombstone or evidence through ${N} creations and deletions, and takes over without publishing old deletion records`, { timeout: 600_000 }, async () => {
    await env.createNamespace(NS);
    await env.stopControllers();
    env.controllers.length = 0;
    const [leader] = await env.startAll();
    const standbys = [await env.startController('deployment-controller'), await env.startController('service-controller')];
    const rss = async (p: ControllerProcess) => (await env.scrape(p)).samples.find((s) => s.name === 'ekspose_process_resident_memory_bytes')?.value ?? Number.NaN;
    const rssBefore = await Promise.all(standbys.map(rss));

    const names = Array.from({ length: N }, (_, i) => `churn-${i}`);
    const started = Date.now();
    await inParallel(names, 25, (name) => env.createDeployment(NS, name));
    await eventually(async () => (await env.clients.core.listNamespacedService({ namespace: NS })).items.length === N, {
      timeoutMs: 240_000,
      intervalMs: 2000,
      what: `the leader to expose all ${N}`,
    });
    await inParallel(names, 25, (name) => env.deleteDeployment(NS, name));
    await eventually(async () => (await env.clients.core.listNamespacedService({ namespace: NS })).items.length === 0, {
      timeoutMs: 240_000,
      intervalMs: 2000,
      what: 'the Services to go with their Deployments',
    });
    const churnMs = Date.now() - started;

    const rssAfter = await Promise.all(standbys.map(rss));
    for (const [i, standby] of standbys.entries()) {
      const d = await details(standby);
      process.stderr.write(
        `[brownfield] standby ${standby.identity} after ${N} creations and deletions (${churnMs} ms): queue held ${d.queueHeld}, ` +
          `bookkeeping ${JSON.stringify(d.bookkeeping)}, RSS ${(rssBefore[i]! / 2 ** 20).toFixed(1)} -> ${(rssAfter[i]! / 2 ** 20).toFixed(1)} MiB\n`,
      );
      assert.equal(d.leader, false);
      assert.equal(d.queueHeld, 0, `${standby.identity}: no key queued, delayed or retried`);
      for (const [what, n] of Object.entries(d.bookkeeping ?? {})) assert.equal(n, 0, `${standby.identity}: ${what}`);
    }

    // Take-over: the leader dies; the standby starts from its informers' state and republishes nothing.
    const published = async (p: ControllerProcess) =>
      (await env.scrape(p)).samples.filter((s) => s.name === 'ekspose_nats_publishes_total' && s.labels['kind'] === 'deployment.deleted').reduce((n, s) => n + s.value, 0);
    assert.ok((await published(leader!)) >= N, 'the leader published the deletions');
    assert.ok(leader!.handle.signal('SIGKILL'));
    const successor = standbys[0]!;
    await successor.handle.waitForLog('started leading', { timeoutMs: 30_000 });
    await successor.handle.waitForLog('"why":"start"', { timeoutMs: 10_000 });
    await sleep(3000);
    assert.equal(await published(successor), 0, 'no old deployment.deleted record published again at take-over');
    await env.createDeployment(NS, 'after-takeover');
    await env.waitForService(NS, 'after-takeover');
  });
});
