// The convergence benchmark's results and the tables it prints of them: each
// scenario side by side, the reconcile histogram, the comparison with the
// worker baseline, and ekspose's rate against the raw client's.
import { DEFAULT_WORKERS, WORK_QUEUE_DEFAULTS } from '@ekspose/k8s';
import { type Histogram, histogramQuantile } from '@ekspose/testing';
import { type RequestCounts, requestTable } from './api-requests';
import { type Writes, POLL_MS } from './controller-process';
import type { RawBaselineResult } from './raw-baseline';
import { fmt, quantile, table } from './stats';
import type { SteadyResult } from './steady-state';
import { summaryLine } from './summary';

/** The controller the benchmark converges. */
export const APP = 'deployment-controller';

export const totalWrites = (w: Writes) => w.create + w.patch + w.delete;

export interface Options {
  n: number;
  rounds: number;
  resyncSeconds: number;
  build: boolean;
  workers: number[];
  /** Folder for a V8 CPU profile of each converging controller (--cpu-prof), to find where its time goes. */
  cpuProfDir?: string;
}


export interface ScenarioResult {
  /** Measured after the last scenario only. */
  steadyState?: SteadyResult;
  workers: number;
  round: number;
  createMs: number;
  /** From process start, read from the controller's log. */
  syncedMs: number;
  leadingMs: number;
  /** From process start to the poll that saw every object. */
  convergedMs: number;
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
}

const secs = (ms: number, digits = 2) => fmt(ms / 1000, digits);
const ms = (seconds: number) => (Number.isNaN(seconds) ? '-' : fmt(seconds * 1000, 1));
/** The bucket bound each quantile falls under: all a histogram knows for sure. */
const quantiles = (h: Histogram) => [0.5, 0.9, 0.99].map((q) => `<=${fmt(histogramQuantile(h, q) * 1000)}`).join(' / ');
const writesText = (w: Writes) => `${fmt(w.create)} / ${fmt(w.patch)} / ${fmt(w.delete)}`;
const mibOfKiB = (kib: number) => `${fmt(kib / 1024, 1)} MiB`;
/** The resync's CPU without the idle baseline over its wall time and without our scrapes. */
const resyncNetSeconds = (r: ScenarioResult) =>
  r.cpu.resync - r.cpu.idlePerSecond * (r.resync.wallMs / 1000) - r.cpu.perScrape * r.cpu.resyncScrapes;

export function reportRaw(raw: RawBaselineResult, results: ScenarioResult[]): void {
  const rawPerSecond = raw.objects / (raw.ms / 1000);
  console.log(`\nraw baseline: the same ${fmt(raw.objects)} objects created directly, ${raw.inFlight} in flight, on a fresh plane: ${secs(raw.ms)} s, ${fmt(rawPerSecond, 1)} objects/s.`);
  for (const workers of [...new Set(results.map((r) => r.workers))]) {
    const work = quantile(results.filter((r) => r.workers === workers).map((r) => r.convergedMs - r.leadingMs), 0.5);
    const perSecond = raw.objects / (work / 1000);
    console.log(`  ekspose workers=${workers}, leading -> all present: ${secs(work)} s, ${fmt(perSecond, 1)} objects/s = ${fmt(perSecond / rawPerSecond, 2)}x the raw rate.`);
    if (workers === DEFAULT_WORKERS) {
      summaryLine('convergence', `objects/s creating ${fmt(raw.objects)} objects (leading -> all present)`, fmt(perSecond, 1), `${fmt(rawPerSecond, 1)} (raw client)`, `${fmt(perSecond / rawPerSecond, 2)}x`);
    }
  }
}

export function report(opts: Options, results: ScenarioResult[]): void {
  const objects = results[0]!.objects;
  const { qps, burst } = WORK_QUEUE_DEFAULTS;
  console.log(`\n## convergence (macro): ${APP} over a real kube-apiserver + etcd + NATS (loopback)`);
  console.log(
    `N = ${fmt(opts.n)} Deployments (${fmt(objects - opts.n)} with ingReq) created before the controller starts = ${fmt(objects)} objects to create; ` +
      `fresh control plane per run; EKSPOSE_RESYNC_SECONDS=${opts.resyncSeconds}; metadata-only list poll every ${POLL_MS} ms (so times are ±${POLL_MS} ms).`,
  );
  console.log(
    `work queue: fresh keys bounded by the workers only; retries by a global bucket of ${qps}/s, burst ${burst}, as client-go's default rate limiter.`,
  );

  const columns = results.map((r) => `workers=${r.workers}${r.workers === DEFAULT_WORKERS ? ' (default)' : ' (baseline)'}${opts.rounds > 1 ? ` #${r.round}` : ''}`);
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
        row('writes to idle: create / patch / delete', (r) => writesText(r.writes)),
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

  const medianOf = (workers: number, f: (r: ScenarioResult) => number) => quantile(results.filter((r) => r.workers === workers).map(f), 0.5);
  const [baseline, candidate] = [opts.workers[0]!, opts.workers.at(-1)!];
  if (baseline !== candidate) {
    const conv = (w: number) => medianOf(w, (r) => r.convergedMs);
    const work = (w: number) => medianOf(w, (r) => r.convergedMs - r.leadingMs);
    const rss = (w: number) => medianOf(w, (r) => r.rssIdleKiB);
    console.log(`\ncomparison, workers=${candidate} against the workers=${baseline} baseline measured above${opts.rounds > 1 ? ` (medians of ${opts.rounds} rounds)` : ''}:`);
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
