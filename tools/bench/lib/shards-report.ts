// The shards benchmark's tables (shards.bench.ts measures, this prints): skew,
// cache and memory per replica, the goals, convergence and the work per
// replica, hand-overs, and the host-claims index; side by side for the gate
// on and off, and as summary lines for `npm run bench`.
import { rangeIndexOf } from '@ekspose/k8s';
import type { AppName, Writes } from './controller-process';
import type { RequestCounts } from './api-requests';
import type { ClaimsMemory } from './claims-memory';
import { fmt, table } from './stats';
import { summaryLine } from './summary';

/** Issue 21's goals, gate on: each of 3 replicas at most this share of the single replica's cache, and of its RSS. */
export const CACHE_GOAL = 0.4;
export const RSS_GOAL = 0.6;

/** What the run was asked to do. */
export interface ShardsRun {
  deployments: number;
  namespaces: string[];
  shards: number;
  batch: number;
  replicas: number;
  routes: number;
  /** Creates in flight. */
  inFlight: number;
  apps: readonly AppName[];
}

export interface Config {
  id: string;
  label: string;
  shards: number;
  replicas: number;
}

/** One replica's figures in one configuration. */
export interface ReplicaRow {
  app: AppName;
  identity: string;
  /** Ranges it held once settled (sharded configurations). */
  ranges: number[];
  /** ekspose_informer_objects by resource, at idle after the start-up. */
  cached: Map<string, number>;
  /** ekspose_shard_server_side of its Deployments cache: 1 the server filtered, 0 it filtered itself. */
  serverSide?: number;
  /** From the configuration's start until all its replicas of this controller were ready (ranges served) and idle. */
  readyMs: number;
  rssKiB: number;
  heapMiB: number;
  /** During the batch, from before its first create until idle after it. */
  reconciles: number;
  writes: Writes;
  rssAfterBatchKiB: number;
  hwmKiB: number;
}

export interface ConfigResult {
  gate: boolean;
  cfg: Config;
  rows: ReplicaRow[];
  batch: { createMs: number; convergedMs: number; requests: RequestCounts };
  rebalanceMs?: Map<AppName, number>;
  takeover?: Map<AppName, { ms: number; ranges: number[] }>;
  /** WATCH streams the API server held for this configuration's replicas at idle, by resource. */
  watches?: Map<string, number>;
  /** Range moves (1 -> 3, kill -9): ranges that changed hands over all controllers, and the LIST requests meanwhile by resource. */
  moves?: Array<{ what: string; ranges: number; lists: RequestCounts }>;
}

export interface PlaneResult {
  gate: boolean;
  prepare: { createMs: number; servicesMs: number };
  configs: ConfigResult[];
  /** Range-held-twice violations seen by the monitor (the run fails on any). */
  violations: string[];
}


const mibOfKiB = (kib: number) => fmt(kib / 1024, 1);
const pct = (part: number, whole: number) => `${fmt((100 * part) / whole)}%`;
const secs = (ms: number) => fmt(ms / 1000, 1);
const totalWrites = (w: Writes) => w.create + w.patch + w.delete;
const cachedTotal = (row: ReplicaRow) => [...row.cached.values()].reduce((a, b) => a + b, 0);
const gateName = (gate: boolean) => (gate ? 'on' : 'off');
const rowsOf = (r: ConfigResult, app: AppName) => r.rows.filter((x) => x.app === app);
const configOf = (plane: PlaneResult, id: string) => plane.configs.find((c) => c.cfg.id === id)!;

function reportSkew(run: ShardsRun, planes: PlaneResult[]): void {
  const { deployments: N, shards: SHARDS, replicas: REPLICAS, namespaces } = run;
  const M = namespaces.length;
  const perNamespace = new Map(namespaces.map((ns) => [ns, 0]));
  for (let i = 0; i < N; i++) perNamespace.set(namespaces[i % M]!, perNamespace.get(namespaces[i % M]!)! + 1);
  const perRange = Array.from({ length: SHARDS }, () => ({ deployments: 0, namespaces: 0 }));
  for (const [ns, count] of perNamespace) {
    const range = perRange[rangeIndexOf(ns, SHARDS)]!;
    range.deployments += count;
    range.namespaces += 1;
  }
  const counts = perRange.map((r) => r.deployments);
  const mean = N / SHARDS;
  console.log(
    `\nnamespaces: ${fmt(M)} named <team>-<env> (e.g. ${namespaces.slice(0, 3).join(', ')}, …, ${namespaces.at(-1)}), ` +
      `${fmt(N / M, 1)} Deployments each on average (app-<i> in namespace i mod ${M}).`,
  );
  console.log(
    `skew, Deployments per range (FNV-1a 64 of the namespace, ${SHARDS} ranges): min ${fmt(Math.min(...counts))}, mean ${fmt(mean, 1)}, ` +
      `max ${fmt(Math.max(...counts))} = max/mean ${fmt(Math.max(...counts) / mean, 2)}; namespaces per range ${Math.min(...perRange.map((r) => r.namespaces))}-${Math.max(...perRange.map((r) => r.namespaces))}.`,
  );
  console.log(`  per range: ${perRange.map((r, i) => `${i}: ${fmt(r.deployments)} (${r.namespaces} ns)`).join(', ')}`);
  for (const plane of planes) {
    const rows = rowsOf(configOf(plane, 's3'), 'deployment-controller');
    const perReplica = rows.map((row) => row.ranges.reduce((sum, r) => sum + perRange[r]!.deployments, 0));
    const replicaMean = N / rows.length;
    console.log(
      `skew per replica, ${REPLICAS} replicas (the deployment-controller's member Leases, gate ${gateName(plane.gate)}): ` +
        `${rows.map((row, i) => `${fmt(perReplica[i]!)} (ranges ${row.ranges.join(',')})`).join('; ')} = max/mean ${fmt(Math.max(...perReplica) / replicaMean, 2)}.`,
    );
  }
}

function reportCaches(run: ShardsRun, planes: PlaneResult[]): void {
  const N = run.deployments;
  const all = planes.flatMap((p) => p.configs.flatMap((c) => c.rows.map((row) => ({ gate: p.gate, cfg: c.cfg, row }))));
  const resources = [...new Set(all.flatMap((x) => [...x.row.cached.keys()]))].sort();
  const shown = resources.filter((res) => all.some((x) => (x.row.cached.get(res) ?? 0) > 0));
  console.log(`\n### 1. Cache and memory per replica, at idle after starting over the ${fmt(N)} correct Deployments`);
  console.log(
    `\nobjects cached per resource (ekspose_informer_objects; resources with no object in any replica left out: ${resources.filter((r) => !shown.includes(r)).join(', ') || 'none'}); ` +
      `server-side: ekspose_shard_server_side of the Deployments cache; ready: from the configuration's start until every replica of the controller served its ranges and had reconciled its start-up keys.\n`,
  );
  console.log(
    table(
      ['gate', 'configuration', 'replica', 'ranges', ...shown, 'total', 'server-side', 'ready s', 'RSS idle MiB', 'heap MiB', 'RSS after batch / peak MiB'],
      all.map(({ gate, cfg, row }) => [
        gateName(gate),
        cfg.label,
        row.identity,
        cfg.shards === 1 ? 'all' : String(row.ranges.length),
        ...shown.map((res) => fmt(row.cached.get(res) ?? 0)),
        fmt(cachedTotal(row)),
        row.serverSide === undefined ? '-' : row.serverSide === 1 ? 'yes' : 'no',
        secs(row.readyMs),
        mibOfKiB(row.rssKiB),
        fmt(row.heapMiB, 1),
        `${mibOfKiB(row.rssAfterBatchKiB)} / ${mibOfKiB(row.hwmKiB)}`,
      ]),
    ),
  );
}

function reportGoals(run: ShardsRun, planes: PlaneResult[]): void {
  const { shards: SHARDS, replicas: REPLICAS, apps: APPS } = run;
  console.log(
    `\n### 2. Goals: with the gate on, each of ${REPLICAS} replicas <= ${CACHE_GOAL * 100}% of the single replica's cache and <= ${RSS_GOAL * 100}% of its RSS ` +
      `(the single replica: EKSPOSE_SHARDS=${SHARDS}, 1 replica, same run; gate off: the figures as they are)\n`,
  );
  const rows: string[][] = [];
  for (const plane of planes) {
    const single = configOf(plane, 's1');
    const three = configOf(plane, 's3');
    for (const app of APPS) {
      const one = rowsOf(single, app)[0]!;
      const each = rowsOf(three, app);
      const maxCache = Math.max(...each.map(cachedTotal));
      const maxRss = Math.max(...each.map((r) => r.rssKiB));
      const cacheMet = maxCache <= CACHE_GOAL * cachedTotal(one);
      const rssMet = maxRss <= RSS_GOAL * one.rssKiB;
      rows.push([
        gateName(plane.gate),
        app,
        fmt(cachedTotal(one)),
        `${each.map((r) => fmt(cachedTotal(r))).join(' / ')} (max ${pct(maxCache, cachedTotal(one))})`,
        plane.gate ? (cacheMet ? 'met' : 'not met') : '-',
        mibOfKiB(one.rssKiB),
        `${each.map((r) => mibOfKiB(r.rssKiB)).join(' / ')} (max ${pct(maxRss, one.rssKiB)})`,
        plane.gate ? (rssMet ? 'met' : 'not met') : '-',
      ]);
      if (plane.gate) {
        summaryLine('shards', `${app}: cache of each of 3 replicas (max), gate on`, pct(maxCache, cachedTotal(one)), `<= ${CACHE_GOAL * 100}% (goal)`, cacheMet ? 'met' : 'not met');
        summaryLine('shards', `${app}: RSS of each of 3 replicas (max), gate on`, pct(maxRss, one.rssKiB), `<= ${RSS_GOAL * 100}% (goal)`, rssMet ? 'met' : 'not met');
      }
    }
  }
  console.log(table(['gate', 'controller', '1 replica: cached', `${REPLICAS} replicas: cached each`, 'cache goal', '1 replica: RSS MiB', `${REPLICAS} replicas: RSS MiB each`, 'RSS goal'], rows));
}

function reportConvergence(run: ShardsRun, planes: PlaneResult[]): void {
  const { batch: BATCH, replicas: REPLICAS, apps: APPS, inFlight } = run;
  console.log(`\n### 3. Convergence of ${fmt(BATCH)} new Deployments (each gets its Service), created ${inFlight} at a time while the configuration runs\n`);
  const posts = (c: ConfigResult) => [...c.batch.requests].filter(([k]) => k.startsWith('POST ')).reduce((a, [, n]) => a + n, 0);
  console.log(
    table(
      ['gate', 'configuration', 'created in s', 'all Services after s', 'Deployments/s', 'API server: POSTs/s (services/s)'],
      planes.flatMap((p) =>
        p.configs.map((c) => {
          const s = c.batch.convergedMs / 1000;
          return [
            gateName(p.gate),
            c.cfg.label,
            secs(c.batch.createMs),
            secs(c.batch.convergedMs),
            fmt(BATCH / s, 1),
            `${fmt(posts(c) / s, 1)} (${fmt((c.batch.requests.get('POST services') ?? 0) / s, 1)})`,
          ];
        }),
      ),
    ),
  );
  console.log(
    `\n(POSTs/s: every create the API server counted from the first create until the last Service, the batch's Deployments included, over that time: ` +
      `what the plane sustained; the same figure for 1 and ${REPLICAS} replicas says the API server, not the controllers, set the pace.)`,
  );
  console.log(`\nwork per replica during the batch (from before its first create until idle after it): reconciles (ekspose_reconcile_total) and API writes (ekspose_objects_written_total)\n`);
  console.log(
    table(
      ['gate', 'configuration', 'replica', 'reconciles', 'writes: create / patch / delete'],
      planes.flatMap((p) =>
        p.configs.flatMap((c) => c.rows.map((row) => [gateName(p.gate), c.cfg.label, row.identity, fmt(row.reconciles), `${fmt(row.writes.create)} / ${fmt(row.writes.patch)} / ${fmt(row.writes.delete)}`])),
      ),
    ),
  );
  console.log(`\nsums across the ${REPLICAS} replicas against the single replica's (no duplicate work: the same writes, about the same reconciles)\n`);
  const rows: string[][] = [];
  for (const p of planes) {
    for (const app of APPS) {
      const one = rowsOf(configOf(p, 's1'), app);
      const three = rowsOf(configOf(p, 's3'), app);
      const sum = (rs: ReplicaRow[], f: (r: ReplicaRow) => number) => rs.reduce((a, r) => a + f(r), 0);
      const written = sum(three, (r) => totalWrites(r.writes));
      const share = (r: ReplicaRow) => (written > 0 ? pct(totalWrites(r.writes), written) : '-');
      rows.push([
        gateName(p.gate),
        app,
        `${fmt(sum(one, (r) => r.reconciles))} / ${fmt(sum(one, (r) => totalWrites(r.writes)))}`,
        `${fmt(sum(three, (r) => r.reconciles))} / ${fmt(sum(three, (r) => totalWrites(r.writes)))}`,
        three.map(share).join(' / '),
      ]);
    }
  }
  console.log(table(['gate', 'controller', '1 replica: reconciles / writes', `${REPLICAS} replicas, summed: reconciles / writes`, 'share of the writes per replica'], rows));
  for (const p of planes) {
    const three = configOf(p, 's3');
    const one = configOf(p, 's1');
    summaryLine('shards', `${fmt(BATCH)} new Deployments to Services, 3 replicas, gate ${gateName(p.gate)} (s)`, secs(three.batch.convergedMs), `${secs(one.batch.convergedMs)} (1 replica)`);
  }
}

function reportHandovers(run: ShardsRun, planes: PlaneResult[]): void {
  const { replicas: REPLICAS, apps: APPS } = run;
  console.log(`\n### 4. Hand-overs (default Lease timings: duration 15 s, renew deadline 10 s, retry period 2 s)\n`);
  console.log(
    table(
      ['gate', 'controller', `kill -9 -> its ranges held and served by the others (s)`, 'ranges it held', `1 -> ${REPLICAS}: new replicas started -> all ranges split and served (s)`],
      planes.flatMap((p) =>
        APPS.map((app) => {
          const t = configOf(p, 's3').takeover?.get(app);
          const r = configOf(p, 's1').rebalanceMs?.get(app);
          return [gateName(p.gate), app, t ? secs(t.ms) : '-', t ? t.ranges.join(',') : '-', r === undefined ? '-' : secs(r)];
        }),
      ),
    ),
  );
  for (const p of planes) {
    const takeovers = APPS.map((app) => configOf(p, 's3').takeover?.get(app)?.ms ?? Number.NaN);
    const rebalances = APPS.map((app) => configOf(p, 's1').rebalanceMs?.get(app) ?? Number.NaN);
    summaryLine('shards', `take-over after kill -9, slowest controller, gate ${gateName(p.gate)} (s)`, secs(Math.max(...takeovers)), '15 (Lease duration)');
    summaryLine('shards', `rebalance 1 -> 3, slowest controller, gate ${gateName(p.gate)} (s)`, secs(Math.max(...rebalances)), '-');
  }
}

/** WATCH streams held and the LISTs of each range move: one stream per cache per replica, one list per kind per replica gaining ranges. */
function reportStreams(planes: PlaneResult[]): void {
  console.log(`\n### 4b. WATCH streams at the API server (at idle) and LIST requests per range move\n`);
  const kinds = ['deployments', 'services', 'ingresses'];
  const byKind = (m: Map<string, number> | undefined, key: (k: string) => string) => kinds.map((k) => fmt(m?.get(key(k)) ?? 0)).join(' / ');
  console.log(
    table(
      ['gate', 'configuration', 'WATCH streams: deployments / services / ingresses', 'move', 'ranges moved', 'LIST deployments / services / ingresses', 'LIST deployments per range moved'],
      planes.flatMap((p) =>
        p.configs.flatMap((c) =>
          (c.moves?.length ? c.moves : [undefined]).map((m) => [
            gateName(p.gate),
            c.cfg.label,
            byKind(c.watches, (k) => k),
            m?.what ?? '-',
            m ? fmt(m.ranges) : '-',
            m ? byKind(m.lists, (k) => `LIST ${k}`) : '-',
            m && m.ranges > 0 ? fmt((m.lists.get('LIST deployments') ?? 0) / m.ranges, 2) : '-',
          ]),
        ),
      ),
    ),
  );
  for (const p of planes) {
    const three = configOf(p, 's3');
    const streams = [...(three.watches?.values() ?? [])].reduce((a, b) => a + b, 0);
    summaryLine('shards', `WATCH streams of ${three.cfg.label}, gate ${gateName(p.gate)}`, fmt(streams), '-');
  }
}

function reportClaims(routes: number, replicas: number, memory: ClaimsMemory | undefined): void {
  console.log(`\n### 5. The cluster-wide host-claims index at ${fmt(routes)} routes (in this process, no plane; heap after forced GCs)\n`);
  if (!memory) {
    console.log('skipped: run with node --expose-gc (npm run bench -- shards does).');
    return;
  }
  const at = (bytes: number) => `${fmt((bytes * memory.routes) / 2 ** 20, 1)} MiB`;
  const { claimsBytes: claims, indexBytes: index, wholeBytes: whole } = memory;
  console.log(
    table(
      ['what is kept of a managed Ingress (or HTTPRoute)', 'bytes per route', `at ${fmt(memory.routes)} routes`],
      [
        ['the claims informer: claimsOnly (name, namespace, uid, two labels, owner, created, hosts, paths)', fmt(claims), at(claims)],
        ['the HostIndex over the claims', fmt(index), at(index)],
        ['= the cluster-wide claims index of a sharded replica, for every route whatever its ranges', fmt(claims + index), at(claims + index)],
        ['for contrast: the whole managed Ingress, as the managed cache keeps it (slimOwned)', fmt(whole), at(whole)],
      ],
    ),
  );
  // One replica: the managed cache of every route and the HostIndex over it. Each of n: its share of the managed cache, and the whole index.
  const single = whole + index;
  const each = whole / replicas + claims + index;
  console.log(
    `\nWhat the routes cost a replica of the deployment-controller (or ingress-controller): one replica ${at(single)} (managed cache + HostIndex); ` +
      `each of ${replicas} sharded replicas ${at(each)} (a third of the managed cache + the claims index) = ${pct(each, single)} of it: ` +
      `the claims index does not shrink with replicas. The routes are Ingresses from tools/bench/lib/fixtures.ts (one host and path each); an HTTPRoute's claims are the same fields.`,
  );
  summaryLine('shards', `host-claims index per route (${fmt(memory.routes)} routes)`, `${fmt(claims + index)} B`, `${fmt(whole)} B (whole managed Ingress)`, `${fmt((claims + index) / whole, 2)}x`);
}

export function reportShards(run: ShardsRun, planes: PlaneResult[], memory: ClaimsMemory | undefined, violations: string[]): void {
  const { deployments: N, shards: SHARDS, replicas: REPLICAS } = run;
  const M = run.namespaces.length;
  console.log(
    `\n## shards (macro): ${fmt(N)} Deployments over ${fmt(M)} namespaces, EKSPOSE_SHARDS=${SHARDS}, 1 and ${REPLICAS} replicas of each controller, ShardedListAndWatch on and off`,
  );
  for (const p of planes) {
    console.log(
      `gate ${gateName(p.gate)}: ${fmt(N)} Deployments created in ${secs(p.prepare.createMs)} s, their Services made by one deployment-controller in ` +
        `${secs(p.prepare.servicesMs)} s (${fmt(N / (p.prepare.servicesMs / 1000), 1)} a second); then each configuration started over them.`,
    );
  }
  reportSkew(run, planes);
  reportCaches(run, planes);
  reportGoals(run, planes);
  reportConvergence(run, planes);
  reportHandovers(run, planes);
  reportStreams(planes);
  reportClaims(run.routes, run.replicas, memory);
  console.log(
    violations.length === 0
      ? '\nRanges held by two live replicas at once (member Leases listed every 500 ms): none.'
      : `\nRanges held by two live replicas at once (member Leases listed every 500 ms):\n  ${violations.join('\n  ')}`,
  );
}

