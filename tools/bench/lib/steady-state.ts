// After convergence, on the same plane: the cluster as it runs day to day.
//
// - start-up over N already-correct Deployments: all three controllers started
//   fresh; per controller the time to synced caches, and for the
//   deployment-controller to its full start-up resync done; the writes of all
//   of it (the contract: 0); RSS once idle and the peak (VmHWM), with the
//   manifests' Node flags.
// - latency at idle: Deployments created one at a time; create -> the Service
//   and -> the Ingress, as a watch delivers them. Baseline: the API server
//   alone, a Service and an Ingress of the same shape created directly (both
//   at once, as ekspose writes them), request sent -> ADDED on the same watch.
// - Lease traffic: the Lease writes of the three leaders over a minute's share.
import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeConfig, type V1Deployment, Watch } from '@kubernetes/client-node';
import { watchAdded } from './cluster';
import type { KubeClients } from '@ekspose/k8s';
import type { ControlPlane } from '@ekspose/testing';
import {
  type AppName,
  type BenchController,
  type Writes,
  CONTROLLER_NAMESPACE,
  loggedAt,
  memoryOf,
  pollUntil,
  scrape,
  startBenchController,
  waitForIdle,
  writesOf,
} from './controller-process';
import { fmt, quantile, table } from './stats';
import { type RequestCounts, apiRequests, requestDelta, requestTable } from './api-requests';
import { summaryLine } from './summary';

const APPS: readonly AppName[] = ['deployment-controller', 'service-controller', 'ingress-controller'];
const LATENCY_NS = 'bench-latency';

export interface StartupRow {
  app: AppName;
  syncedMs: number;
  /** deployment-controller: until its start-up resync of every key was done; others: until leading. */
  doneMs: number;
  writes: Writes;
  rssKiB: number;
  hwmKiB: number;
}

export interface SteadyResult {
  n: number;
  startup: StartupRow[];
  latency: { service: number[]; ingress: number[]; rawService: number[]; rawIngress: number[] };
  lease: { writes: number; seconds: number };
  /** What the API server counted over a quiet minute with all three controllers running. */
  idleRequests: RequestCounts;
}

const IDLE_WINDOW_SECONDS = 60;

async function measureStartup(plane: ControlPlane, n: number, domain: string, controllers: BenchController[]): Promise<StartupRow[]> {
  const started = Date.now();
  for (const app of APPS) controllers.push(await startBenchController(plane, { app, identity: `${app}-steady`, domain }));
  const timeoutMs = 60_000 + n * 30;
  const rows: StartupRow[] = [];
  for (const [i, app] of APPS.entries()) {
    const c = controllers[i]!;
    await c.handle.waitForLog('started leading', { timeoutMs });
    const samples =
      app === 'deployment-controller' ? await waitForIdle(c.handle, c.metricsPort, { timeoutMs, atLeast: n }) : await scrape(c.metricsPort);
    const doneAt = app === 'deployment-controller' ? Date.now() : loggedAt(c.handle, 'started leading');
    rows.push({ app, syncedMs: loggedAt(c.handle, 'caches synced') - started, doneMs: doneAt - started, writes: writesOf(samples), rssKiB: 0, hwmKiB: 0 });
  }
  // Idle: a few seconds with nothing to do, then RSS (the peak is the process's high-water mark).
  await sleep(5_000);
  for (const [i, row] of rows.entries()) {
    const c = controllers[i]!;
    const mem = memoryOf(c.handle.pid);
    row.rssKiB = mem.rssKiB;
    row.hwmKiB = mem.hwmKiB;
    row.writes = writesOf(await scrape(c.metricsPort));
  }
  return rows;
}

function latencyDeployment(name: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: LATENCY_NS, labels: { app: name, ingReq: 'needed' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
    },
  };
}

async function measureLatency(kc: KubeConfig, clients: KubeClients, count: number): Promise<SteadyResult['latency']> {
  await clients.core.createNamespace({ body: { metadata: { name: LATENCY_NS } } });
  const services = new Map<string, number>();
  const ingresses = new Map<string, number>();
  const watches = [
    await watchAdded(kc, `/api/v1/namespaces/${LATENCY_NS}/services`, services),
    await watchAdded(kc, `/apis/networking.k8s.io/v1/namespaces/${LATENCY_NS}/ingresses`, ingresses),
  ];
  const result: SteadyResult['latency'] = { service: [], ingress: [], rawService: [], rawIngress: [] };
  try {
    for (let i = 0; i < count; i++) {
      const name = `lat-${i}`;
      const sent = Date.now();
      await clients.apps.createNamespacedDeployment({ namespace: LATENCY_NS, body: latencyDeployment(name) });
      await pollUntil(`Service and Ingress ${name}`, 30_000, undefined, async () => (services.has(name) && ingresses.has(name) ? true : undefined));
      result.service.push(services.get(name)! - sent);
      result.ingress.push(ingresses.get(name)! - sent);
      // One at a time, from idle: the next create waits until the Events and NATS records of this one are out.
      await sleep(200);
    }
    // The API server alone: no Deployment, no managed-by label (so no controller reacts), the same shapes.
    for (let i = 0; i < count; i++) {
      const name = `raw-${i}`;
      const sent = Date.now();
      await Promise.all([
        clients.core.createNamespacedService({
          namespace: LATENCY_NS,
          body: { metadata: { name }, spec: { type: 'ClusterIP', selector: { app: name }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }] } },
        }),
        clients.networking.createNamespacedIngress({
          namespace: LATENCY_NS,
          body: {
            metadata: { name },
            spec: { rules: [{ host: `${name}.bench.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } }] },
          },
        }),
      ]);
      await pollUntil(`Service and Ingress ${name}`, 30_000, undefined, async () => (services.has(name) && ingresses.has(name) ? true : undefined));
      result.rawService.push(services.get(name)! - sent);
      result.rawIngress.push(ingresses.get(name)! - sent);
      await sleep(200);
    }
  } finally {
    for (const w of watches) w.abort();
  }
  return result;
}

async function measureLeaseWrites(kc: KubeConfig, seconds: number): Promise<SteadyResult['lease']> {
  let writes = 0;
  const watch = await new Watch(kc).watch(
    `/apis/coordination.k8s.io/v1/namespaces/${CONTROLLER_NAMESPACE}/leases`,
    {},
    (type: string) => {
      if (type === 'MODIFIED') writes++;
    },
    () => undefined,
  );
  await sleep(seconds * 1000);
  watch.abort();
  return { writes, seconds };
}

/** Runs the three phases on a converged plane; the controllers it starts are stopped before it returns. */
export async function measureSteadyState(input: { plane: ControlPlane; kc: KubeConfig; clients: KubeClients; n: number; domain: string }): Promise<SteadyResult> {
  const controllers: BenchController[] = [];
  try {
    const startup = await measureStartup(input.plane, input.n, input.domain, controllers);
    const latency = await measureLatency(input.kc, input.clients, 20);
    const lease = await measureLeaseWrites(input.kc, 30);
    // A quiet minute, nothing of ours polling: what the three idle controllers cost the API server.
    const before = await apiRequests(input.plane);
    await sleep(IDLE_WINDOW_SECONDS * 1000);
    const idleRequests = requestDelta(await apiRequests(input.plane), before);
    return { n: input.n, startup, latency, lease, idleRequests };
  } finally {
    await Promise.all(controllers.map((c) => c.handle.stop(12_000)));
  }
}

const mib = (kib: number) => fmt(kib / 1024, 1);
const total = (w: Writes) => w.create + w.patch + w.delete;

export function reportSteadyState(r: SteadyResult): void {
  console.log(`\n### steady state over the ${fmt(r.n)} converged Deployments (all three controllers, manifests' Node flags)`);
  console.log(`\nstart-up over an already-correct cluster (all three started at once):\n`);
  console.log(
    table(
      ['controller', 'caches synced s', 'done s', 'writes', 'RSS idle MiB', 'peak RSS MiB'],
      r.startup.map((row) => [
        row.app,
        fmt(row.syncedMs / 1000, 2),
        `${fmt(row.doneMs / 1000, 2)}${row.app === 'deployment-controller' ? ' (resync of every key)' : ' (leading)'}`,
        fmt(total(row.writes)),
        mib(row.rssKiB),
        mib(row.hwmKiB),
      ]),
    ),
  );
  const q = (v: number[], p: number) => fmt(quantile(v, p));
  console.log(`\nlatency at idle, ${r.latency.service.length} Deployments one at a time (ms, create request sent -> ADDED on a watch):\n`);
  console.log(
    table(
      ['create ->', 'p50', 'p99', 'max'],
      [
        ['Service (ekspose: create Deployment -> Service)', q(r.latency.service, 0.5), q(r.latency.service, 0.99), fmt(Math.max(...r.latency.service))],
        ['Ingress (ekspose: create Deployment -> Ingress)', q(r.latency.ingress, 0.5), q(r.latency.ingress, 0.99), fmt(Math.max(...r.latency.ingress))],
        ['Service (baseline: created directly)', q(r.latency.rawService, 0.5), q(r.latency.rawService, 0.99), fmt(Math.max(...r.latency.rawService))],
        ['Ingress (baseline: created directly)', q(r.latency.rawIngress, 0.5), q(r.latency.rawIngress, 0.99), fmt(Math.max(...r.latency.rawIngress))],
      ],
    ),
  );
  console.log(`\nLease writes of the three leaders: ${r.lease.writes} in ${r.lease.seconds} s = ${fmt((r.lease.writes * 60) / r.lease.seconds)} per minute (client-go's cadence: one renewal per 2 s each = 90).`);
  console.log(`\nAPI requests over ${IDLE_WINDOW_SECONDS} s of idle, all three controllers running (apiserver_request_total; the two reads of it not counted):\n`);
  console.log(requestTable([{ name: `${IDLE_WINDOW_SECONDS} s idle`, counts: r.idleRequests }]));
  const writes = r.startup.reduce((sum, row) => sum + total(row.writes), 0);
  const n = fmt(r.n);
  summaryLine('convergence', `start-up over ${n} correct Deployments: writes`, fmt(writes), '0 (the contract)');
  for (const row of r.startup) summaryLine('convergence', `${row.app}: RSS idle / peak at ${n} (MiB)`, `${mib(row.rssKiB)} / ${mib(row.hwmKiB)}`, '120 / 160 (goal)');
  const p99 = (v: number[]) => fmt(quantile(v, 0.99));
  summaryLine('convergence', `create -> Service p99 at ${n} (ms)`, p99(r.latency.service), `${p99(r.latency.rawService)} (Service created directly)`);
  summaryLine('convergence', `create -> Ingress p99 at ${n} (ms)`, p99(r.latency.ingress), `${p99(r.latency.rawIngress)} (Ingress created directly)`);
  summaryLine('convergence', 'Lease writes a minute, 3 leaders', fmt((r.lease.writes * 60) / r.lease.seconds), "90 (client-go's cadence)");
  if (writes !== 0) throw new Error(`start-up over an already-correct cluster wrote ${writes} times; docs/design.md §2.5 says 0`);
}
