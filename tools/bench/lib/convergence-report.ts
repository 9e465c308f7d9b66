// The convergence benchmark's results and their main table: what each scenario
// measured, side by side, the reconcile histogram, the worker baseline and the
// API requests by verb. convergence.bench.ts runs the scenarios.

import { WORK_QUEUE_DEFAULTS } from '@ekspose/k8s';
import { type Histogram, histogramQuantile } from '@ekspose/testing';
import { type RequestCounts, requestTable } from './api-requests';
import { POLL_MS, type Writes } from './controller-process';
import type { EventFigures } from './event-watch';
import { fmt, quantile, table } from './stats';
import type { SteadyResult } from './steady-state';
import type { CpuSnapshot } from './plane-cpu';

export const APP = 'deployment-controller';

export interface Options {
  n: number;
  rounds: number;
  resyncSeconds: number;
  build: boolean;
  workers: number[];
  /** A checkout whose dist/apps bundles run as one more contender, with the old default of 4 workers. */
  baselineBundle?: string;
  /** Folder for a V8 CPU profile of each converging controller (--cpu-prof), to find where its time goes. */
  cpuProfDir?: string;
}


/** What runs in a scenario: this checkout's bundle with a worker count, or another checkout's (--baseline-bundle). */
export interface Contender {
  label: string;
  workers: number;
  bundleRoot?: string;
}

export interface ScenarioResult {
  /** Measured after the last scenario only. */
  steadyState?: SteadyResult;
  label: string;
  workers: number;
  round: number;
  createMs: number;
  /** From process start, read from the controller's log. */
  syncedMs: number;
  leadingMs: number;
  /** From process start to the last object's arrival through the benchmark's watches. */
  convergedMs: number;
  /** CPU seconds by process (the plane's, the controller, this benchmark) from leading to convergence. */
  machineCpu: CpuSnapshot;
  objects: number;
  /** Everything written up to idle after convergence. */
  writes: Writes;
  resyncsBeforeIdle: number;
  resync: { keys: number; writes: Writes; wallMs: number };
  rssLeadingKiB: number;
  rssIdleKiB: number;
  rssAfterResyncKiB: number;
  hwmKiB: number;
  heapUsedIdle: number;
  heapTotalIdle: number;
  /** Controller CPU (user + system, /proc/<pid>/stat) in seconds, per phase. */
  cpu: { toLeading: number; leadingToIdle: number; idlePerSecond: number; resync: number; perScrape: number; resyncScrapes: number };
  convergeHist: Histogram;
  resyncHist: Histogram;
  /** What the API server counted from the controller's start to idle (this bench's own polls included). */
  requests: RequestCounts;
  /** From the controller's start until every Exposed Event came (or the wait ended). */
  requestsToEvents: RequestCounts;
  /** Event writes (POST and PATCH events, as the API server counted them) up to convergence, and after it. */
  eventWritesDuring: number;
  eventWritesAfter: number;
  events: EventFigures;
}

export const totalWrites = (w: Writes) => w.create + w.patch + w.delete;

const secs = (ms: number, digits = 2) => fmt(ms / 1000, digits);
const ms = (seconds: number) => (Number.isNaN(seconds) ? '-' : fmt(seconds * 1000, 1));
/** The bucket bound each quantile falls under: all a histogram knows for sure. */
const quantiles = (h: Histogram) => [0.5, 0.9, 0.99].map((q) => `<=${fmt(histogramQuantile(h, q) * 1000)}`).join(' / ');
const writesText = (w: Writes) => `${fmt(w.create)} / ${fmt(w.patch)} / ${fmt(w.delete)}`;
const mibOfKiB = (kib: number) => `${fmt(kib / 1024, 1)} MiB`;
/** The resync's CPU without the idle baseline over its wall time and without our scrapes. */
const resyncNetSeconds = (r: ScenarioResult) =>
  r.cpu.resync - r.cpu.idlePerSecond * (r.resync.wallMs / 1000) - r.cpu.perScrape * r.cpu.resyncScrapes;

/** `contenders`: the scenario labels in order, the first the baseline the last is compared with. */
export function report(opts: Options, results: ScenarioResult[], contenders: readonly string[]): void {
  const objects = results[0]!.objects;
  const { qps, burst } = WORK_QUEUE_DEFAULTS;
  console.log(`\n## convergence (macro): ${APP} over a real kube-apiserver + etcd + NATS (loopback)`);
  console.log(
    `N = ${fmt(opts.n)} Deployments (${fmt(objects - opts.n)} with ingReq) created before the controller starts = ${fmt(objects)} objects to create; ` +
      `fresh control plane per run; EKSPOSE_RESYNC_SECONDS=${opts.resyncSeconds}; each object's arrival timed by a metadata-only watch, as the raw client's are.`,
  );
  console.log(
    `work queue: fresh keys bounded by the workers only; retries by a global bucket of ${qps}/s, burst ${burst}, as client-go's default rate limiter.`,
  );

  const columns = results.map((r) => `${r.label}${opts.rounds > 1 ? ` #${r.round}` : ''}`);
  const row = (label: string, f: (r: ScenarioResult) => string) => [label, ...results.map(f)];
  console.log('');
  console.log(
    table(
      ['figure', ...columns],
      [
        row('Deployments created before start (s)', (r) => secs(r.createMs, 1)),
        row('process start -> caches synced (s)', (r) => secs(r.syncedMs)),
        row('process start -> leading (s)', (r) => secs(r.leadingMs)),
        row(`process start -> all ${objects} objects present (s)`, (r) => secs(r.convergedMs)),
        row('leading -> all present (s)', (r) => secs(r.convergedMs - r.leadingMs)),
        row('objects/s from process start', (r) => fmt(r.objects / (r.convergedMs / 1000), 1)),
        row('objects/s from leading', (r) => fmt(r.objects / ((r.convergedMs - r.leadingMs) / 1000), 1)),
        row('writes to idle and its Events: create / patch / delete', (r) => writesText(r.writes)),
        row('periodic resyncs before idle', (r) => String(r.resyncsBeforeIdle)),
        row('resync after convergence: keys', (r) => fmt(r.resync.keys)),
        row('  its writes: create / patch / delete', (r) => writesText(r.resync.writes)),
        row('  its wall time (s)', (r) => secs(r.resync.wallMs)),
        row('reconciles to idle', (r) => fmt(r.convergeHist.count)),
        row('  duration p50 / p90 / p99 (ms, bucket bound)', (r) => quantiles(r.convergeHist)),
        row('  mean (ms)', (r) => ms(r.convergeHist.sum / r.convergeHist.count)),
        row('reconciles in the resync', (r) => fmt(r.resyncHist.count)),
        row('  duration p50 / p90 / p99 (ms, bucket bound)', (r) => quantiles(r.resyncHist)),
        row('  mean (ms)', (r) => ms(r.resyncHist.sum / r.resyncHist.count)),
        row('controller CPU: start -> leading (s)', (r) => fmt(r.cpu.toLeading, 2)),
        row('  leading -> idle after convergence (s)', (r) => fmt(r.cpu.leadingToIdle, 2)),
        row('  per object created (ms)', (r) => fmt((r.cpu.leadingToIdle * 1000) / r.objects, 1)),
        row('  idle, waiting for the resync (ms per s)', (r) => fmt(r.cpu.idlePerSecond * 1000, 1)),
        row('  the resync (ms)', (r) => fmt(r.cpu.resync * 1000)),
        row('  per resynced key (ms)', (r) => fmt((r.cpu.resync * 1000) / r.resync.keys, 2)),
        row('  one /metrics scrape (ms)', (r) => fmt(r.cpu.perScrape * 1000, 1)),
        row('  per resynced key, net of idle + scrapes (ms)', (r) => fmt((resyncNetSeconds(r) * 1000) / r.resync.keys, 2)),
        row('RSS when it starts leading (VmRSS)', (r) => mibOfKiB(r.rssLeadingKiB)),
        row('RSS idle after convergence (VmRSS)', (r) => mibOfKiB(r.rssIdleKiB)),
        row('RSS after the resync (VmRSS)', (r) => mibOfKiB(r.rssAfterResyncKiB)),
        row('peak RSS (VmHWM)', (r) => mibOfKiB(r.hwmKiB)),
        row('V8 heap used / total idle (from /metrics)', (r) => `${fmt(r.heapUsedIdle / 1024 / 1024, 1)} / ${fmt(r.heapTotalIdle / 1024 / 1024, 1)} MiB`),
        row('Event writes: to convergence / after', (r) => `${fmt(r.eventWritesDuring)} / ${fmt(r.eventWritesAfter)}`),
        row('last Exposed Event after convergence (s)', (r) => secs(r.events.exposedMaxDelayMs, 1)),
      ],
    ),
  );

  console.log('\nreconcile duration histogram (ekspose_reconcile_duration_seconds, cumulative count per bucket):');
  const bounds = results[0]!.convergeHist.buckets.map((b) => b.le);
  const bucketRows = bounds.map((le) => [
    le === Infinity ? '+Inf' : `<= ${fmt(le * 1000)} ms`,
    ...results.flatMap((r) => [r.convergeHist, r.resyncHist].map((h) => fmt(h.buckets.find((b) => b.le === le)?.count ?? 0))),
  ]);
  console.log(table(['le', ...results.flatMap((r, i) => [`${columns[i]} convergence`, 'resync'])], bucketRows));

  const medianOf = (label: string, f: (r: ScenarioResult) => number) => quantile(results.filter((r) => r.label === label).map(f), 0.5);
  const [baseline, candidate] = [contenders[0]!, contenders.at(-1)!];
  if (baseline !== candidate) {
    const conv = (l: string) => medianOf(l, (r) => r.convergedMs);
    const work = (l: string) => medianOf(l, (r) => r.convergedMs - r.leadingMs);
    const rss = (l: string) => medianOf(l, (r) => r.rssIdleKiB);
    console.log(`\ncomparison, ${candidate} against ${baseline} measured above${opts.rounds > 1 ? ` (medians of ${opts.rounds} rounds)` : ''}:`);
    console.log(
      `  process start -> converged: ${secs(conv(candidate))} s vs ${secs(conv(baseline))} s (${fmt(conv(baseline) / conv(candidate), 2)}x); ` +
        `leading -> converged: ${secs(work(candidate))} s vs ${secs(work(baseline))} s (${fmt(work(baseline) / work(candidate), 2)}x); ` +
        `${fmt(objects / (work(candidate) / 1000), 1)} vs ${fmt(objects / (work(baseline) / 1000), 1)} objects/s once leading.`,
    );
    console.log(`  RSS idle: ${mibOfKiB(rss(candidate))} vs ${mibOfKiB(rss(baseline))}.`);
  }
  const resyncWrites = results.reduce((sum, r) => sum + totalWrites(r.resync.writes), 0);
  console.log(`  resync of an already-correct cluster: ${fmt(resyncWrites)} writes over ${results.length} run(s) (the contract: 0).`);
  console.log(`\nAPI requests by verb and resource from the controller's start to idle, as the API server counted them (apiserver_request_total;`);
  console.log(`the list services/ingresses rows include this benchmark's own metadata-only polls, about ${fmt(1000 / POLL_MS)} a second each):\n`);
  console.log(requestTable(results.map((r, i) => ({ name: columns[i]!, counts: r.requests }))));
}

