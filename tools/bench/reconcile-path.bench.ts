// Micro benchmark, pure code, no I/O: the hot path of a periodic resync of a
// cluster that is already correct. For every Deployment the controller parses
// its labels (parseExposeSpec), builds the desired Service and Ingress, and
// compares them with the live objects from its cache (serviceDrift /
// ingressDrift), deciding to write nothing.
//
// Baseline, measured in the same run on the same fixtures: a generic
// client-side compare that knows nothing of the fields ekspose owns (merge the
// desired object into a copy of the live one, compare sorted JSON), and the
// cheapest and wrong one (whole desired object vs whole live object).
//
//   node tools/scripts/run-ts.mjs tools/bench/reconcile-path.bench.ts [--n 10000] [--rounds 9] [--warmup 2]
import { spawnSync } from 'node:child_process';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { desiredIngress, desiredService, ingressDrift, serviceDrift } from '@ekspose/expose';
import { parseExposeSpec } from '@ekspose/labels';
import type { Settings } from '@ekspose/expose';
import { intOption, parseArgs } from './lib/args';
import { type ReconcileFixture, benchSettings, buildFixtures } from './lib/fixtures';
import { mergeCompareWouldWrite, wholeObjectWouldWrite } from './lib/naive-compare';
import { fmt, mib, speedup, summarize, table } from './lib/stats';
import { summaryLine } from './lib/summary';

interface Variant {
  id: string;
  label: string;
  /** Writes the variant decides to make for one Deployment (Service + Ingress); stages return 0. */
  run(f: ReconcileFixture, settings: Settings): number;
  /** Whether it decides writes at all (the stage rows only build things). */
  decides: boolean;
}

/** Keeps what a stage built reachable, so the JIT cannot drop the work. */
let _sink: unknown;

function expose(f: ReconcileFixture, settings: Settings) {
  const parsed = parseExposeSpec(f.deployment, settings);
  if (parsed.kind !== 'expose') throw new Error(`fixture ${f.deployment.metadata?.name} no longer parses`);
  return parsed.spec;
}

const VARIANTS: Variant[] = [
  {
    id: 'parse',
    label: 'stage: parseExposeSpec',
    decides: false,
    run: (f, s) => {
      _sink = expose(f, s);
      return 0;
    },
  },
  {
    id: 'desired',
    label: 'stage: + desiredService/desiredIngress',
    decides: false,
    run: (f, s) => {
      const spec = expose(f, s);
      _sink = desiredService(spec);
      _sink = desiredIngress(spec);
      return 0;
    },
  },
  {
    id: 'ekspose',
    label: 'ekspose: + serviceDrift/ingressDrift',
    decides: true,
    run: (f, s) => {
      const spec = expose(f, s);
      let writes = serviceDrift(f.liveService, desiredService(spec)) ? 1 : 0;
      const ingress = desiredIngress(spec);
      if (ingress && f.liveIngress && ingressDrift(f.liveIngress, ingress)) writes++;
      return writes;
    },
  },
  {
    id: 'merge',
    label: 'baseline: merge desired into copy + sorted JSON',
    decides: true,
    run: (f, s) => {
      const spec = expose(f, s);
      let writes = mergeCompareWouldWrite(f.liveService, desiredService(spec)) ? 1 : 0;
      const ingress = desiredIngress(spec);
      if (ingress && f.liveIngress && mergeCompareWouldWrite(f.liveIngress, ingress)) writes++;
      return writes;
    },
  },
  {
    id: 'whole',
    label: 'wrong: whole desired vs whole live, sorted JSON',
    decides: true,
    run: (f, s) => {
      const spec = expose(f, s);
      let writes = wholeObjectWouldWrite(f.liveService, desiredService(spec)) ? 1 : 0;
      const ingress = desiredIngress(spec);
      if (ingress && f.liveIngress && wholeObjectWouldWrite(f.liveIngress, ingress)) writes++;
      return writes;
    },
  },
];

function pass(variant: Variant, fixtures: readonly ReconcileFixture[], settings: Settings, from = 0, to = fixtures.length): number {
  let writes = 0;
  for (let i = from; i < to; i++) writes += variant.run(fixtures[i]!, settings);
  return writes;
}

const gc = (globalThis as { gc?: () => void }).gc;

interface HeapFigures {
  id: string;
  /** heapUsed after a forced GC, before the first chunk. */
  before: number;
  /** Sum over the chunks of heapUsed growth during the chunk: the bytes the pass allocated. */
  allocated: number;
  /** heapUsed after a forced GC at the end, minus `before`: what the pass kept. */
  retained: number;
  /** Garbage collections V8 started by itself inside the chunks (0 = `allocated` is exact). */
  gcsInside: number;
}

const HEAP_CHUNK = 1000;

/**
 * Runs in a child process started with --expose-gc and a young generation
 * large enough that a chunk of HEAP_CHUNK Deployments allocates without a
 * collection: then heapUsed growth is exactly what the chunk allocated.
 */
async function heapPhase(n: number): Promise<void> {
  if (!gc) throw new Error('--heap-phase needs --expose-gc');
  const settings = benchSettings();
  const fixtures = buildFixtures(n, settings);
  // Warm the JIT, so that compiling is not counted as the path's allocation.
  for (const v of VARIANTS) pass(v, fixtures, settings, 0, Math.min(n, 3000));

  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const flags = (entry as { detail?: { flags?: number } }).detail?.flags ?? 0;
      if (!(flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED)) collections++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  // GC entries reach the observer only after a timer turn, not on setImmediate.
  const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 50));

  const results: HeapFigures[] = [];
  for (const v of VARIANTS) {
    gc();
    await settle();
    const before = process.memoryUsage().heapUsed;
    const gcsBefore = collections;
    let allocated = 0;
    for (let from = 0; from < n; from += HEAP_CHUNK) {
      gc();
      const start = process.memoryUsage().heapUsed;
      pass(v, fixtures, settings, from, Math.min(n, from + HEAP_CHUNK));
      const end = process.memoryUsage().heapUsed;
      allocated += end - start;
    }
    gc();
    await settle();
    const after = process.memoryUsage().heapUsed;
    // The forced collections are not counted; whatever else ran happened inside a chunk.
    results.push({ id: v.id, before, allocated, retained: after - before, gcsInside: collections - gcsBefore });
  }
  observer.disconnect();
  _sink = undefined;
  process.stdout.write(`HEAP_RESULT ${JSON.stringify({ results })}\n`);
}

function measureHeapInChild(n: number): { results: HeapFigures[] } {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--min-semi-space-size=128',
      '--max-semi-space-size=128',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--heap-phase',
      `--n=${n}`,
    ],
    { encoding: 'utf8', timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const line = child.stdout?.split('\n').find((l) => l.startsWith('HEAP_RESULT '));
  if (child.status !== 0 || !line) {
    throw new Error(`heap phase failed (status ${child.status}, signal ${child.signal}):\n${child.stderr}\n${child.stdout}`);
  }
  return JSON.parse(line.slice('HEAP_RESULT '.length)) as { results: HeapFigures[] };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = intOption(args, 'n', 10_000);
  if (args.options.has('heap-phase')) return heapPhase(n);
  const rounds = intOption(args, 'rounds', 9);
  const warmup = intOption(args, 'warmup', 2);

  const settings = benchSettings();
  gc?.();
  const heapEmpty = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const fixtures = buildFixtures(n, settings);
  const buildMs = performance.now() - t0;
  gc?.();
  const heapFixtures = process.memoryUsage().heapUsed - heapEmpty;
  const withIngress = fixtures.filter((f) => f.liveIngress).length;
  const objects = n + withIngress;

  console.log(`\n## reconcile-path (micro): the resync hot path over an already-correct cluster`);
  console.log(
    `N = ${fmt(n)} Deployments (${fmt(withIngress)} with an Ingress) = ${fmt(objects)} live objects compared per pass; ` +
      `one op = one Deployment. Node ${process.version}, ${rounds} measured passes per variant after ${warmup} warm-up passes, interleaved.`,
  );
  console.log(
    `fixtures built in ${fmt(buildMs)} ms` +
      (gc ? `; they hold ${mib(heapFixtures)} of heap (${fmt(heapFixtures / n / 1024, 1)} KiB per Deployment with its Service/Ingress)` : ''),
  );

  // The answer first: a pass that decides the wrong number of writes is a broken scenario, not a figure.
  const expected: Record<string, number> = { ekspose: 0, merge: 0, whole: objects };
  const decided = new Map<string, number>();
  for (const v of VARIANTS) {
    const writes = pass(v, fixtures, settings);
    decided.set(v.id, writes);
    if (v.id in expected && writes !== expected[v.id]) {
      throw new Error(`${v.label}: decided ${writes} writes, expected ${expected[v.id]}: the fixtures or the compare are wrong`);
    }
  }
  for (let w = 1; w < warmup; w++) for (const v of VARIANTS) pass(v, fixtures, settings);

  const nsPerOp = new Map<string, number[]>(VARIANTS.map((v) => [v.id, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so no variant always runs right after the same one.
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(r + k) % VARIANTS.length]!;
      gc?.();
      const start = process.hrtime.bigint();
      const writes = pass(v, fixtures, settings);
      const elapsed = Number(process.hrtime.bigint() - start);
      if (writes !== decided.get(v.id)) throw new Error(`${v.label}: decided ${writes} writes this round, ${decided.get(v.id)} before`);
      nsPerOp.get(v.id)!.push(elapsed / n);
    }
  }
  _sink = undefined;

  const stats = new Map(VARIANTS.map((v) => [v.id, summarize(nsPerOp.get(v.id)!)]));
  console.log('\nspeed (ns per Deployment; ops/s from the median):');
  console.log(
    table(
      ['variant', 'median ns/op', 'ops/s', 'min ns/op', 'max ns/op', 'IQR', 'writes decided / pass'],
      VARIANTS.map((v) => {
        const s = stats.get(v.id)!;
        return [v.label, fmt(s.median), fmt(1e9 / s.median), fmt(s.min), fmt(s.max), `${fmt(s.iqrPct, 1)}%`, v.decides ? fmt(decided.get(v.id)!) : '-'];
      }),
    ),
  );

  const ours = stats.get('ekspose')!.median;
  const merge = stats.get('merge')!.median;
  const whole = stats.get('whole')!.median;
  const compareOnly = (total: number) => total - stats.get('desired')!.median;
  summaryLine('micro', 'resync path, ns per Deployment', fmt(ours), `${fmt(merge)} (merge + sorted JSON)`, speedup(merge, ours));
  console.log('\ncomparison with the baseline measured above:');
  console.log(
    `  ekspose drift path ${fmt(ours)} ns/op vs merge+sorted-JSON baseline ${fmt(merge)} ns/op: ${speedup(merge, ours)} per Deployment; ` +
      `the compare step alone ${fmt(compareOnly(ours))} vs ${fmt(compareOnly(merge))} ns (${speedup(compareOnly(merge), compareOnly(ours))}).`,
  );
  console.log(
    `  a resync of ${fmt(n)} Deployments spends ${fmt((ours * n) / 1e6, 1)} ms of CPU on this path (baseline ${fmt((merge * n) / 1e6, 1)} ms); both decide 0 writes.`,
  );
  console.log(
    `  the whole-object compare costs ${fmt(whole)} ns/op (ekspose: ${speedup(whole, ours)}) and would write all ${fmt(objects)} objects on every resync.`,
  );

  const heap = measureHeapInChild(n);
  console.log(
    `\nmemory per pass over ${fmt(n)} Deployments (separate process: --expose-gc, 128 MiB semi-spaces; forced GC before each chunk of ${fmt(HEAP_CHUNK)}; ` +
      `"GCs inside" = collections V8 started by itself during the chunks, 0 means "allocated" is exact):`,
  );
  console.log(
    table(
      ['variant', 'heap before', 'allocated / pass', 'bytes / op', 'heap after GC', 'retained', 'GCs inside'],
      heap.results.map((h) => [
        VARIANTS.find((v) => v.id === h.id)!.label,
        mib(h.before),
        mib(h.allocated),
        fmt(h.allocated / n),
        mib(h.before + h.retained),
        mib(h.retained, 2),
        String(h.gcsInside),
      ]),
    ),
  );
  const alloc = (id: string) => heap.results.find((h) => h.id === id)!.allocated;
  console.log(
    `  ekspose allocates ${fmt(alloc('ekspose') / n)} B/op vs ${fmt(alloc('merge') / n)} B/op for the baseline ` +
      `(${fmt(alloc('merge') / Math.max(1, alloc('ekspose')), 1)}x less garbage per resync); ` +
      `"retained" near 0 = nothing kept between resyncs. "heap before" is the whole process, fixtures included.`,
  );
}

await main().catch((err: unknown) => {
  console.error(`\nreconcile-path bench FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
