// Brownfield benchmark on a real control plane (loopback only): what a cluster
// full of objects ekspose does not own costs it.
//
//  1. Memory of watching every name: the deployment- and service-controller
//     (each keeps a metadata-only cache of every Service) over an empty
//     cluster (the baseline, same run), then over N foreign Services
//     (default 10,000, as a cluster of Helm charts has them).
//  2. Conflicts: C Deployments (default 200) whose names foreign Services hold.
//     The API requests over a W-second window (default 60) while they stand,
//     from apiserver_request_total, against the same window with no conflict
//     (the baseline); then the time from each foreign Service's deletion to
//     ekspose's Service of that name.
//  3. Standby: a second deployment-controller standing by while the leader
//     handles D Deployments (default 10,000) created and then deleted: its
//     RSS and what it holds (queue, tombstones, …) before and after, next to
//     the leader's.
//
//   node tools/scripts/run-ts.mjs tools/bench/brownfield.bench.ts [--services 10000] [--conflicts 200] [--window 60] [--churn 10000] [--no-build]
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients } from '@ekspose/k8s';
import { type ControlPlane, inParallel, startControlPlane, workspaceRoot } from '@ekspose/testing';
import { intOption, parseArgs } from './lib/args';
import { SERVICE_RANGE_ARGS, ensureNamespace } from './lib/cluster';
import { type AppName, type BenchController, CONTROLLER_NAMESPACE, memoryOf, pollUntil, readyz, scrape, startBenchController } from './lib/controller-process';
import { type RequestCounts, apiRequests, requestDelta, requestTable } from './lib/api-requests';
import { fmt, quantile, table } from './lib/stats';
import { summaryLine } from './lib/summary';

const args = parseArgs(process.argv.slice(2));
const SERVICES = intOption(args, 'services', 10_000);
const CONFLICTS = intOption(args, 'conflicts', 200);
const WINDOW_S = intOption(args, 'window', 60);
const CHURN = intOption(args, 'churn', 10_000);
const NAMESPACES = 100;
const IN_FLIGHT = 16;
const APPS: AppName[] = ['deployment-controller', 'service-controller'];

interface Memory {
  rssMiB: number;
  heapMiB: number;
  names: number;
}

async function memory(c: BenchController): Promise<Memory> {
  const samples = await scrape(c.metricsPort);
  const heap = samples.find((s) => s.name === 'ekspose_nodejs_heap_size_used_bytes')?.value ?? Number.NaN;
  const { informers } = (await readyz(c)).details;
  return { rssMiB: memoryOf(c.handle.pid).rssKiB / 1024, heapMiB: heap / 2 ** 20, names: informers['services/metadata']?.objects ?? 0 };
}

async function main(): Promise<void> {
  if (!args.options.has('no-build')) {
    const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', ...APPS, '--outputStyle=static'], { cwd: workspaceRoot(), stdio: 'inherit' });
    if (build.status !== 0) throw new Error('building the controllers failed');
  }
  const plane: ControlPlane = await startControlPlane({ apiserverExtraArgs: SERVICE_RANGE_ARGS, log: (l) => console.error(`[plane] ${l}`) });
  const controllers: BenchController[] = [];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const clients = createKubeClients(kc);
    await ensureNamespace(clients, CONTROLLER_NAMESPACE);
    for (const app of APPS) controllers.push(await startBenchController(plane, { app, identity: app, domain: 'bench.test' }));
    for (const c of controllers) await c.handle.waitForLog('started leading', { timeoutMs: 60_000 });
    await memoryOfNames(clients, controllers);
    await conflicts(plane, clients, controllers[0]!);
    const standby = await startBenchController(plane, { app: 'deployment-controller', identity: 'deployment-controller-standby', domain: 'bench.test' });
    controllers.push(standby);
    await standbyUnderChurn(clients, controllers[0]!, standby);
  } finally {
    await Promise.all(controllers.map((c) => c.handle.stop(12_000)));
    await plane.stop();
  }
}

/** 1. N foreign Services: what their names cost each controller, against the same controller over an empty cluster. */
async function memoryOfNames(clients: KubeClients, controllers: BenchController[]): Promise<void> {
  await sleep(3000);
  const empty = await Promise.all(controllers.map(memory));
  console.log(`\n## 1. Memory: the names of ${fmt(SERVICES)} Services ekspose does not own (metadata-only watch)\n`);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `foreign-${i}`);
  for (const ns of namespaces) await ensureNamespace(clients, ns);
  const started = Date.now();
  await inParallel(
    Array.from({ length: SERVICES }, (_, i) => i),
    IN_FLIGHT,
    (i) =>
      clients.core.createNamespacedService({
        namespace: namespaces[i % NAMESPACES]!,
        body: {
          metadata: { name: `svc-${i}`, labels: { 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': `release-${i}`, 'helm.sh/chart': 'app-1.2.3' } },
          spec: { selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 as never }] },
        },
      }),
  );
  console.error(`created ${SERVICES} Services in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const c of controllers) {
    await pollUntil(`${c.handle.name} to see ${SERVICES} names`, 120_000, c.handle, async () => ((await memory(c)).names >= SERVICES ? true : undefined));
  }
  await sleep(3000);
  const full = await Promise.all(controllers.map(memory));
  console.log(
    table(
      ['controller', 'names cached', 'RSS empty', `RSS ${fmt(SERVICES)}`, 'heap empty', `heap ${fmt(SERVICES)}`, 'heap per name'],
      controllers.map((c, i) => [
        c.handle.name,
        fmt(full[i]!.names),
        `${empty[i]!.rssMiB.toFixed(1)} MiB`,
        `${full[i]!.rssMiB.toFixed(1)} MiB`,
        `${empty[i]!.heapMiB.toFixed(1)} MiB`,
        `${full[i]!.heapMiB.toFixed(1)} MiB`,
        `${(((full[i]!.heapMiB - empty[i]!.heapMiB) * 2 ** 20) / SERVICES).toFixed(0)} B`,
      ]),
    ),
  );
  for (const [i, c] of controllers.entries()) {
    summaryLine('brownfield', `${c.handle.name} RSS with ${fmt(SERVICES)} foreign Services`, `${full[i]!.rssMiB.toFixed(0)} MiB`, `${empty[i]!.rssMiB.toFixed(0)} MiB empty`, `+${(full[i]!.rssMiB - empty[i]!.rssMiB).toFixed(0)} MiB`);
  }

}

/** 2. Conflicts: the baseline window first (no conflict), then C conflicts held, then their take-over. */
async function conflicts(plane: ControlPlane, clients: KubeClients, dc: BenchController): Promise<void> {
  console.log(`\n## 2. Conflicts: ${CONFLICTS} Deployments whose names foreign Services hold, ${WINDOW_S} s\n`);
  const window = async (): Promise<RequestCounts> => {
    const before = await apiRequests(plane);
    await sleep(WINDOW_S * 1000);
    return requestDelta(await apiRequests(plane), before);
  };
  const idle = await window();
  const NS = 'conflicts';
  await ensureNamespace(clients, NS);
  const names = Array.from({ length: CONFLICTS }, (_, i) => `app-${i}`);
  await inParallel(names, IN_FLIGHT, (name) =>
    clients.core.createNamespacedService({ namespace: NS, body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'Helm' } }, spec: { selector: { app: name }, ports: [{ port: 80 }] } } }),
  );
  await inParallel(names, IN_FLIGHT, (name) =>
    clients.apps.createNamespacedDeployment({
      namespace: NS,
      body: { metadata: { name }, spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } } },
    }),
  );
  await pollUntil(`${CONFLICTS} conflicts held`, 120_000, dc.handle, async () => ((await readyz(dc)).details.bookkeeping?.nameConflicts === CONFLICTS ? true : undefined));
  const held = await window();
  console.log(requestTable([{ name: `idle, ${WINDOW_S} s`, counts: idle }, { name: `${CONFLICTS} conflicts, ${WINDOW_S} s`, counts: held }]));
  // What the conflicts themselves cost: requests on Services (the Warnings' Events, told once each, may still be flushing).
  const onServices = (c: RequestCounts) => [...c].filter(([k]) => / services$/.test(k) && !/^(LIST|WATCH) /.test(k)).reduce((a, [, n]) => a + n, 0);
  summaryLine('brownfield', `GET/POST services, ${CONFLICTS} conflicts held ${WINDOW_S} s`, fmt(onServices(held)), `${fmt(onServices(idle))} idle`, 'before: ~850');

  // The mechanism: one foreign Service deleted at a time, the next only once its name is taken.
  const taken = (name: string) => async () =>
    (await clients.core.readNamespacedService({ namespace: NS, name }).catch(() => undefined))?.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'ekspose' ? true : undefined;
  const single: number[] = [];
  for (const name of names.slice(0, 10)) {
    await clients.core.deleteNamespacedService({ namespace: NS, name });
    const gone = Date.now();
    await pollUntil(`${name} taken`, 60_000, dc.handle, taken(name));
    single.push(Date.now() - gone);
  }
  // A burst: the rest at once, where the API server's create throughput sets the pace.
  const burst = names.slice(10);
  const goneAt = new Map<string, number>();
  await inParallel(burst, IN_FLIGHT, async (name) => {
    await clients.core.deleteNamespacedService({ namespace: NS, name });
    goneAt.set(name, Date.now());
  });
  const takenAfter: number[] = [];
  const pending = new Set(burst);
  await pollUntil('every name taken', 300_000, dc.handle, async () => {
    const list = await clients.core.listNamespacedService({ namespace: NS, labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
    const now = Date.now();
    for (const s of list.items) {
      const name = s.metadata!.name!;
      if (pending.delete(name)) takenAfter.push(now - goneAt.get(name)!);
    }
    return pending.size === 0 ? true : undefined;
  });
  const line = (what: string, v: number[]) => `${what} (n=${v.length}): p50 ${fmt(quantile(v, 0.5))} ms, p90 ${fmt(quantile(v, 0.9))} ms, max ${fmt(Math.max(...v))} ms`;
  console.log(`\nname taken after the foreign Service's deletion (polled every 100 ms; before: up to 60,000 ms, a create and a read every 5-60 s):`);
  console.log(`  ${line('one at a time', single)}`);
  console.log(`  ${line(`${burst.length} deleted at once`, takenAfter)}`);
  summaryLine('brownfield', 'name taken after the foreign Service went, p90, one at a time', `${fmt(quantile(single, 0.9))} ms`, '2,000 ms goal', '-');
  summaryLine('brownfield', `name taken, p90, ${burst.length} at once`, `${fmt(quantile(takenAfter, 0.9))} ms`, '-', '-');
}

/** 3. A standby through CHURN creations and deletions: what it holds and its RSS, next to the leader's. */
async function standbyUnderChurn(clients: KubeClients, leader: BenchController, standby: BenchController): Promise<void> {
  console.log(`\n## 3. A standby deployment-controller while the leader handles ${fmt(CHURN)} Deployments created, then deleted\n`);
  await pollUntil('the standby ready', 60_000, standby.handle, async () => ((await readyz(standby)).ok ? true : undefined));
  const NS = 'churn';
  await ensureNamespace(clients, NS);
  const rows: string[][] = [];
  const look = async (when: string) => {
    for (const c of [leader, standby]) {
      const d = (await readyz(c)).details;
      const held = Object.values(d.bookkeeping ?? {}).reduce((a, b) => a + b, 0) + (d.queueHeld ?? 0);
      const { rssKiB, hwmKiB } = memoryOf(c.handle.pid);
      rows.push([when, c.handle.name, `${(rssKiB / 1024).toFixed(1)} MiB`, `${(hwmKiB / 1024).toFixed(1)} MiB`, fmt(held)]);
    }
  };
  await look('before');
  const names = Array.from({ length: CHURN }, (_, i) => `churn-${i}`);
  const deployment = (name: string) => ({
    metadata: { name },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
  });
  await inParallel(names, IN_FLIGHT, (name) => clients.apps.createNamespacedDeployment({ namespace: NS, body: deployment(name) }));
  const services = async () => (await clients.core.listNamespacedService({ namespace: NS, limit: 1, labelSelector: 'app.kubernetes.io/managed-by=ekspose' })).metadata?.remainingItemCount;
  await pollUntil(`${CHURN} Services`, 600_000, leader.handle, async () => {
    const list = await clients.core.listNamespacedService({ namespace: NS, labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
    return list.items.length >= CHURN ? true : undefined;
  });
  await look(`${fmt(CHURN)} created`);
  await inParallel(names, IN_FLIGHT, (name) => clients.apps.deleteNamespacedDeployment({ namespace: NS, name }));
  await pollUntil('every Service gone', 600_000, leader.handle, async () => ((await services()) === undefined && (await clients.core.listNamespacedService({ namespace: NS, limit: 1 })).items.length === 0 ? true : undefined));
  await look(`${fmt(CHURN)} deleted`);
  console.log(table(['when', 'replica', 'RSS', 'peak RSS', 'keys and records held'], rows));
  const standbyRows = rows.filter((r) => r[1] === standby.handle.name);
  summaryLine('brownfield', `standby RSS through ${fmt(CHURN)} creations and deletions`, standbyRows.at(-1)![2]!, `${standbyRows[0]![2]} before`, `${standbyRows.at(-1)![4]} held`);
}

await main();
