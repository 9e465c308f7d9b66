// Shards benchmark on real control planes (loopback only): what sharing each
// controller's work between replicas (EKSPOSE_SHARDS, docs/decisions/0010-shards.md)
// buys and costs, with kube-apiserver's ShardedListAndWatch gate on (the server
// filters each range's list and watch) and off (each replica filters the whole
// stream itself), side by side in one run.
//
// Per plane (gate on, then gate off): N Deployments over M namespaces named as
// teams name them (`<team>-<env>`), created once, and their Services made once
// by a deployment-controller that then stops. Then, against those same objects,
// one configuration after the other, each of all three controllers started
// fresh, measured and stopped:
//   - EKSPOSE_SHARDS=1, one replica: today's leader mode;
//   - EKSPOSE_SHARDS=S, one replica: the baseline of the 3-replica row; then two
//     replicas more of each: the time to rebalance 1 -> 3;
//   - EKSPOSE_SHARDS=S, three replicas; then one of each killed (kill -9): the
//     time until the others hold and serve its ranges.
// In each: objects cached per resource and RSS per replica at idle after the
// start-up; then B new Deployments: the time until every one has its Service,
// the API server's create rate meanwhile, reconciles and writes per replica.
// The batch is removed once the controllers stopped, so the next configuration
// starts over the same N. Last, in this process (no plane): the memory of the
// cluster-wide host-claims index at R routes, by forced GCs (--expose-gc).
//
// Fails (non-zero) only when a scenario broke: no convergence, a Deployment
// without its Service, a range held by two live replicas at once, a crash.
//
//   node --expose-gc --import tsx tools/bench/shards.bench.ts [--deployments 10000] [--namespaces 200] [--shards 12] [--batch 2000] [--routes 10000] [--no-build]
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients, memberLeaseName, statusCodeOf } from '@ekspose/k8s';
import { MANAGED_SELECTOR } from '@ekspose/labels';
import { type ControlPlane, type Sample, inParallel, sampleSum, startControlPlane } from '@ekspose/testing';
import { intOption, parseArgs } from './lib/args';
import { SERVICE_RANGE_ARGS, benchDeployment, bundleApps, ensureNamespace, watchAdded } from './lib/cluster';
import {
  type AppName,
  CONTROLLER_NAMESPACE,
  memoryOf,
  minusWrites,
  pollUntil,
  readyz,
  reconciles,
  scrape,
  startBenchController,
  waitForIdle,
  writesOf,
} from './lib/controller-process';
import { apiRequests, apiWatches, requestDelta } from './lib/api-requests';
import { claimsIndexMemory } from './lib/claims-memory';
import { ObjectCounter } from './lib/object-counter';
import { type Config, type ConfigResult, type PlaneResult, type ReplicaRow, type ShardsRun, reportShards } from './lib/shards-report';
import { Fleet, type Replica, identityOf } from './lib/fleet';
import { heldRanges, watchForDoubleHolds } from './lib/held-ranges';
import { namespaceNames } from './lib/team-namespaces';
import { fmt } from './lib/stats';

const args = parseArgs(process.argv.slice(2));
const N = intOption(args, 'deployments', 10_000);
const M = intOption(args, 'namespaces', 200);
const SHARDS = intOption(args, 'shards', 12);
const BATCH = intOption(args, 'batch', 2_000);
const ROUTES = intOption(args, 'routes', 10_000);
const REPLICAS = 3;
const APPS: readonly AppName[] = ['deployment-controller', 'service-controller', 'ingress-controller'];
const DOMAIN = 'bench.test';
const CREATE_IN_FLIGHT = 8;
const BATCH_LABEL = 'bench.ekspose.io/batch';
/** Kept out of every phase: a periodic resync would add a reconcile of every key (and no write) to whatever phase it fell in. */
const RESYNC_SECONDS = 3600;
/** Bounds that only a broken scenario reaches. */
const convergeTimeoutMs = (objects: number) => Math.max(180_000, objects * 100);
const startTimeoutMs = 60_000 + N * 30;
const HANDOVER_TIMEOUT_MS = 120_000;
const wholeRunTimeoutMs = 30 * 60_000 + 2 * (N + 3 * BATCH) * 250;

const progress = (line: string) => process.stderr.write(`[shards] ${line}\n`);

const CONFIGS: Config[] = [
  { id: 'l1', label: 'EKSPOSE_SHARDS=1, 1 replica (leader)', shards: 1, replicas: 1 },
  { id: 's1', label: `EKSPOSE_SHARDS=${SHARDS}, 1 replica`, shards: SHARDS, replicas: 1 },
  { id: 's3', label: `EKSPOSE_SHARDS=${SHARDS}, ${REPLICAS} replicas`, shards: SHARDS, replicas: REPLICAS },
];

interface Plane {
  gate: boolean;
  plane: ControlPlane;
  kc: KubeConfig;
  clients: KubeClients;
  counter: ObjectCounter;
  namespaces: string[];
}

/**
 * Leader mode: it leads. Shards: every range held by exactly one of `live`
 * (none above its fair share, none empty), each serving what it holds (/readyz).
 */
async function ready(p: Plane, cfg: Config, app: AppName, live: Replica[], timeoutMs: number): Promise<Map<string, number[]>> {
  if (cfg.shards === 1) {
    await live[0]!.c.handle.waitForLog('started leading', { timeoutMs });
    return new Map();
  }
  const share = Math.ceil(cfg.shards / live.length);
  return pollUntil(`${app}: ${cfg.shards} ranges split over ${live.length} replica(s) and served`, timeoutMs, undefined, async () => {
    const leases = (await heldRanges(p.clients, app)).get(app) ?? new Map<string, number[]>();
    const held = new Map(live.map((r) => [identityOf(r), leases.get(identityOf(r)) ?? []]));
    const all = [...held.values()].flat();
    if (all.length !== cfg.shards || new Set(all).size !== cfg.shards || [...held.values()].some((h) => h.length === 0 || h.length > share)) return undefined;
    for (const r of live) {
      const serving = (await readyz(r.c)).details.shards?.serving ?? [];
      if (serving.join() !== held.get(identityOf(r))!.join()) return undefined;
    }
    return held;
  });
}

/** Idle after the start-up: the deployment-controller has reconciled every Deployment it caches; nothing queued anywhere. */
async function idleAfterStart(r: Replica): Promise<void> {
  const atLeast = r.app === 'deployment-controller' ? sampleSum(await scrape(r.c.metricsPort), 'ekspose_informer_objects', { resource: 'deployments' }) : 0;
  await waitForIdle(r.c.handle, r.c.metricsPort, { timeoutMs: startTimeoutMs, atLeast });
}

function cacheOf(samples: readonly Sample[]): Map<string, number> {
  return new Map(samples.filter((s) => s.name === 'ekspose_informer_objects').map((s) => [s.labels.resource ?? '?', s.value]));
}

async function snapshot(r: Replica, ranges: number[], readyMs: number): Promise<ReplicaRow> {
  const samples = await scrape(r.c.metricsPort);
  const server = samples.find((s) => s.name === 'ekspose_shard_server_side' && s.labels.resource === 'deployments');
  const { rssKiB, hwmKiB } = memoryOf(r.c.handle.pid);
  return {
    app: r.app,
    identity: identityOf(r),
    ranges,
    cached: cacheOf(samples),
    ...(server ? { serverSide: server.value } : {}),
    readyMs,
    rssKiB,
    heapMiB: sampleSum(samples, 'ekspose_nodejs_heap_size_used_bytes') / 2 ** 20,
    reconciles: 0,
    writes: { create: 0, patch: 0, delete: 0 },
    rssAfterBatchKiB: Number.NaN,
    hwmKiB,
  };
}

const batchNames = (p: Plane, cfg: Config) => Array.from({ length: BATCH }, (_, i) => ({ namespace: p.namespaces[i % M]!, name: `${cfg.id}-new-${i}` }));

/** B new Deployments while the configuration runs: until each has its Service (as a watch delivers it), then idle. */
async function runBatch(p: Plane, cfg: Config, fleet: Fleet, rows: ReplicaRow[]): Promise<ConfigResult['batch']> {
  const replicas = fleet.live();
  const names = batchNames(p, cfg);
  const before = await Promise.all(replicas.map((r) => scrape(r.c.metricsPort)));
  const requestsBefore = await apiRequests(p.plane);
  const seen = new Map<string, number>();
  // From now on: the Services that exist already are not replayed.
  const from = (await p.clients.core.listServiceForAllNamespaces({ limit: 1 })).metadata?.resourceVersion ?? '';
  let ended: string | undefined;
  const watch = await watchAdded(p.kc, '/api/v1/services', seen, { labelSelector: MANAGED_SELECTOR, resourceVersion: from }, (err) => {
    ended = `the Service watch ended${err ? `: ${err instanceof Error ? err.message : String(err)}` : ''}`;
  });
  try {
    const started = Date.now();
    await inParallel(names, CREATE_IN_FLIGHT, (d) =>
      p.clients.apps.createNamespacedDeployment({ namespace: d.namespace, body: benchDeployment(d.namespace, d.name, { [BATCH_LABEL]: cfg.id }) }),
    );
    const createMs = Date.now() - started;
    progress(`${tag(p, cfg)}: ${fmt(BATCH)} new Deployments created in ${fmt(createMs / 1000, 1)} s; waiting for their Services`);
    await pollUntil(`a Service for each of the ${BATCH} new Deployments`, convergeTimeoutMs(2 * BATCH), undefined, async () => {
      const problem = fleet.crashed() ?? ended;
      if (problem) throw new Error(problem);
      return names.every((d) => seen.has(d.name)) ? true : undefined;
    });
    const convergedMs = Math.max(...names.map((d) => seen.get(d.name)!)) - started;
    const requests = requestDelta(await apiRequests(p.plane), requestsBefore);
    await Promise.all(replicas.map((r) => waitForIdle(r.c.handle, r.c.metricsPort, { timeoutMs: 60_000 })));
    const after = await Promise.all(replicas.map((r) => scrape(r.c.metricsPort)));
    for (const [i, r] of replicas.entries()) {
      const row = rows.find((x) => x.identity === identityOf(r))!;
      row.reconciles = reconciles(after[i]!) - reconciles(before[i]!);
      row.writes = minusWrites(writesOf(after[i]!), writesOf(before[i]!));
      const mem = memoryOf(r.c.handle.pid);
      row.rssAfterBatchKiB = mem.rssKiB;
      row.hwmKiB = mem.hwmKiB;
    }
    return { createMs, convergedMs, requests };
  } finally {
    watch.abort();
  }
}

/** The LIST requests of a range move (all replicas, from its start until every range is served), and the ranges that changed hands. */
async function listsOfMove(p: Plane, moving: () => Promise<number>): Promise<Omit<NonNullable<ConfigResult['moves']>[number], 'what'>> {
  const before = await apiRequests(p.plane);
  const ranges = await moving();
  const lists = new Map([...requestDelta(await apiRequests(p.plane), before)].filter(([key]) => key.startsWith('LIST ')));
  return { ranges, lists };
}

/** Sharded: 1 -> 3 (one replica), or a kill -9 (three), timed, with the LIST requests of the ranges that moved. */
async function handOvers(p: Plane, cfg: Config, fleet: Fleet, result: ConfigResult): Promise<void> {
  if (cfg.shards > 1 && cfg.replicas === 1) {
    progress(`${tag(p, cfg)}: 1 -> ${REPLICAS}: starting ${REPLICAS - 1} replicas more of each controller`);
    // Every range beyond the first replica's share moves to a new one.
    const moved = APPS.length * (cfg.shards - Math.ceil(cfg.shards / REPLICAS));
    result.moves!.push({ what: `1 -> ${REPLICAS}`, ...(await listsOfMove(p, async () => ((result.rebalanceMs = await rebalance(p, cfg, fleet)), moved))) });
  }
  if (cfg.shards > 1 && cfg.replicas > 1) {
    progress(`${tag(p, cfg)}: kill -9 of one replica of each controller`);
    const moved = async () => {
      result.takeover = await takeOver(p, cfg, fleet);
      return [...result.takeover.values()].reduce((n, t) => n + t.ranges.length, 0);
    };
    result.moves!.push({ what: 'kill -9', ...(await listsOfMove(p, moved)) });
  }
}

/** 1 -> 3: two replicas more of each controller; per controller, from their start until every range is split and served. */
async function rebalance(p: Plane, cfg: Config, fleet: Fleet): Promise<Map<AppName, number>> {
  const started = Date.now();
  for (const app of APPS) await fleet.start(app, REPLICAS - 1);
  const times = new Map<AppName, number>();
  await Promise.all(
    APPS.map(async (app) => {
      await ready(p, cfg, app, fleet.live(app), HANDOVER_TIMEOUT_MS);
      times.set(app, Date.now() - started);
    }),
  );
  return times;
}

/** kill -9 of one replica of each controller; per controller, from the kill until the others hold and serve its ranges. */
async function takeOver(p: Plane, cfg: Config, fleet: Fleet): Promise<Map<AppName, { ms: number; ranges: number[] }>> {
  const victims = APPS.map((app) => fleet.live(app)[0]!);
  const held = await heldRanges(p.clients);
  const killedAt = Date.now();
  await Promise.all(victims.map((v) => fleet.kill(v)));
  const result = new Map<AppName, { ms: number; ranges: number[] }>();
  await Promise.all(
    victims.map(async (v) => {
      await ready(p, cfg, v.app, fleet.live(v.app), HANDOVER_TIMEOUT_MS);
      result.set(v.app, { ms: Date.now() - killedAt, ranges: held.get(v.app)?.get(identityOf(v)) ?? [] });
    }),
  );
  // The crashed replicas' Leases would count as live for a lease duration to the next configuration's fresh replicas.
  for (const v of victims) {
    await p.clients.coordination.deleteNamespacedLease({ namespace: CONTROLLER_NAMESPACE, name: memberLeaseName(v.app, identityOf(v)) }).catch((err: unknown) => {
      if (statusCodeOf(err) !== 404) throw err;
    });
  }
  return result;
}

/** Every Deployment of the cluster has its Service (names compared, not counts). */
async function checkEveryDeploymentExposed(p: Plane, when: string): Promise<void> {
  const services = new Set(await p.counter.keys(`/api/v1/services?labelSelector=${encodeURIComponent(MANAGED_SELECTOR)}`));
  const missing = (await p.counter.keys('/apis/apps/v1/deployments')).filter((key) => !services.has(key));
  if (missing.length > 0) throw new Error(`${when}: ${missing.length} Deployment(s) without a Service, e.g. ${missing.slice(0, 5).join(', ')}`);
}

const tag = (p: Plane, cfg: Config) => `gate ${p.gate ? 'on' : 'off'}, ${cfg.label}`;

async function runConfig(p: Plane, cfg: Config, violations: string[]): Promise<ConfigResult> {
  progress(`${tag(p, cfg)}: starting ${cfg.replicas} replica(s) of each controller`);
  const fleet = new Fleet(p.plane, cfg, { domain: DOMAIN, resyncSeconds: RESYNC_SECONDS });
  const stopWatching = watchForDoubleHolds(p.clients, () => new Set(fleet.live().map(identityOf)), violations);
  // The WATCH streams open before any replica of this configuration started (the plane's own, and this bench's).
  const planeWatches = await apiWatches(p.plane);
  const started = Date.now();
  try {
    for (const app of APPS) await fleet.start(app, cfg.replicas);
    const rows: ReplicaRow[] = [];
    await Promise.all(
      APPS.map(async (app) => {
        const held = await ready(p, cfg, app, fleet.live(app), startTimeoutMs);
        for (const r of fleet.live(app)) await idleAfterStart(r);
        const readyMs = Date.now() - started;
        for (const r of fleet.live(app)) rows.push(await snapshot(r, held.get(identityOf(r)) ?? [], readyMs));
      }),
    );
    // A few seconds with nothing to do, then memory again: what stays, not the start-up's transient.
    await sleep(5_000);
    for (const r of fleet.live()) {
      const row = rows.find((x) => x.identity === identityOf(r))!;
      row.rssKiB = memoryOf(r.c.handle.pid).rssKiB;
    }
    const watching = await apiWatches(p.plane);
    const watches = new Map([...watching].map(([resource, n]) => [resource, n - (planeWatches.get(resource) ?? 0)]));
    rows.sort((a, b) => APPS.indexOf(a.app) - APPS.indexOf(b.app) || a.identity.localeCompare(b.identity));
    progress(`${tag(p, cfg)}: ready and idle after ${fmt((Date.now() - started) / 1000, 1)} s; ${fmt(BATCH)} new Deployments next`);
    const batch = await runBatch(p, cfg, fleet, rows);
    progress(`${tag(p, cfg)}: every new Deployment had its Service ${fmt(batch.convergedMs / 1000, 1)} s after the first create`);
    const result: ConfigResult = { gate: p.gate, cfg, rows, batch, watches, moves: [] };
    await handOvers(p, cfg, fleet, result);
    const problem = fleet.crashed();
    if (problem) throw new Error(problem);
    await checkEveryDeploymentExposed(p, tag(p, cfg));
    return result;
  } catch (err) {
    throw new Error(`${tag(p, cfg)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await fleet.stop();
    await stopWatching();
    // The next configuration starts over the same N: the batch goes (its controllers are stopped, so nothing reacts).
    await inParallel(p.namespaces, CREATE_IN_FLIGHT, (namespace) =>
      p.clients.apps.deleteCollectionNamespacedDeployment({ namespace, labelSelector: `${BATCH_LABEL}=${cfg.id}` }),
    );
    await inParallel(batchNames(p, cfg), 16, (d) =>
      p.clients.core.deleteNamespacedService({ namespace: d.namespace, name: d.name }).catch((err: unknown) => {
        if (statusCodeOf(err) !== 404) throw err;
      }),
    );
  }
}

/** N Deployments, and their Services made by one deployment-controller (stopped again): what every configuration starts over. */
async function prepare(p: Plane): Promise<PlaneResult['prepare']> {
  await ensureNamespace(p.clients, CONTROLLER_NAMESPACE);
  for (const ns of p.namespaces) await ensureNamespace(p.clients, ns);
  const created = Date.now();
  await inParallel(
    Array.from({ length: N }, (_, i) => i),
    CREATE_IN_FLIGHT,
    (i) => p.clients.apps.createNamespacedDeployment({ namespace: p.namespaces[i % M]!, body: benchDeployment(p.namespaces[i % M]!, `app-${i}`) }),
  );
  const createMs = Date.now() - created;
  progress(`gate ${p.gate ? 'on' : 'off'}: ${fmt(N)} Deployments created in ${fmt(createMs / 1000, 1)} s; one deployment-controller makes their Services`);
  const started = Date.now();
  const maker = await startBenchController(p.plane, { app: 'deployment-controller', identity: 'deployment-controller-prepare', domain: DOMAIN });
  try {
    await pollUntil(`${N} Services`, convergeTimeoutMs(N), maker.handle, async () =>
      sampleSum(await scrape(maker.metricsPort), 'ekspose_objects_written_total', { kind: 'service', action: 'create' }) >= N ? true : undefined,
    );
  } finally {
    await maker.handle.stop(12_000);
  }
  const servicesMs = Date.now() - started;
  await checkEveryDeploymentExposed(p, 'prepared');
  progress(`gate ${p.gate ? 'on' : 'off'}: ${fmt(N)} Services in ${fmt(servicesMs / 1000, 1)} s (${fmt(N / (servicesMs / 1000), 1)} a second)`);
  return { createMs, servicesMs };
}

async function runPlane(gate: boolean): Promise<PlaneResult> {
  progress(`gate ${gate ? 'on' : 'off'}: starting a control plane${gate ? '' : ' without ShardedListAndWatch'}`);
  const plane = await startControlPlane({
    // Nothing here needs kube-controller-manager, and it would share the 2 cores.
    controllerManager: false,
    apiserverExtraArgs: SERVICE_RANGE_ARGS,
    featureGates: { ShardedListAndWatch: gate },
    log: () => undefined,
  });
  let counter: ObjectCounter | undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    counter = await ObjectCounter.create(kc);
    const p: Plane = { gate, plane, kc, clients: createKubeClients(kc), counter, namespaces: namespaceNames(M) };
    const prepared = await prepare(p);
    const violations: string[] = [];
    const configs: ConfigResult[] = [];
    for (const cfg of CONFIGS) configs.push(await runConfig(p, cfg, violations));
    return { gate, prepare: prepared, configs, violations };
  } finally {
    counter?.close();
    await plane.stop();
  }
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`shards bench: still running after ${fmt(wholeRunTimeoutMs / 60_000)} min; giving up`);
    process.exit(1);
  }, wholeRunTimeoutMs);
  watchdog.unref();
  if (SHARDS < 2) throw new Error('--shards must be at least 2: the bench compares sharded replicas with one');
  bundleApps(APPS, !args.options.has('no-build'));
  progress(`the host-claims index at ${fmt(ROUTES)} routes, in this process`);
  const memory = claimsIndexMemory(ROUTES);
  const planes: PlaneResult[] = [];
  for (const gate of [true, false]) planes.push(await runPlane(gate));
  const violations = planes.flatMap((p) => p.violations.map((v) => `gate ${p.gate ? 'on' : 'off'}: ${v}`));
  const run: ShardsRun = { deployments: N, namespaces: namespaceNames(M), shards: SHARDS, batch: BATCH, replicas: REPLICAS, routes: ROUTES, inFlight: CREATE_IN_FLIGHT, apps: APPS };
  reportShards(run, planes, memory, violations);
  if (violations.length > 0) throw new Error(`a range was held by two live replicas at once (${violations.length} seen)`);
}

await main().catch((err: unknown) => {
  console.error(`\nshards bench FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
