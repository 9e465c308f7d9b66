// `npm run bench`: runs the benchmarks, each in its own Node process, and
// prints their figures, then one summary table of every benchmark's headline
// figures against its baseline. Each benchmark's whole output is kept in
// tools/bench/results/ (ignored by git). Exits 0 whatever the timings;
// non-zero only when a benchmark's scenario broke (a wrong write decision, no
// convergence, a crash).
//
//   npm run bench                                  both, with their defaults
//   npm run bench -- 500                           both, convergence with N=500
//   npm run bench -- micro [--n 10000] [--rounds 9] [--warmup 2]
//   npm run bench -- --deployments 2000                 convergence only, N=2000 (with the steady state after it)
//   npm run bench -- convergence [N] [--rounds 2] [--resync-seconds S] [--no-build]
//   npm run bench -- traffic [--n 20] [--outages 5] [--poll-ms 250] [--no-build]   (root: a private network namespace)
//   npm run bench -- brownfield [--services 10000] [--conflicts 200] [--window 60] [--no-build]
//   npm run bench -- shards [--deployments 10000] [--namespaces 200] [--shards 12] [--batch 2000] [--routes 10000] [--no-build]
//                                               (not part of `all`: two planes of N Deployments, about an hour at the defaults)
//   npm run bench -- runtime [--deployments 2000] [--rounds 1] [--baseline-node 20.20.2] [--no-build]
//                                               (not part of `all`: Node 24 vs Node 20 and the V8 flags, three planes)
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSummaryLine } from './lib/summary';
import { table } from './lib/stats';

interface Bench {
  file: string;
  /** Node flags: the micro benchmark forces GCs between passes. */
  nodeArgs: string[];
  timeoutMs: number;
  /** Runs in a private network namespace (tools/scripts/in-netns.mjs): root only; elsewhere it says why and is skipped. */
  netns?: boolean;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const BENCHES: Record<string, Bench> = {
  micro: { file: 'reconcile-path.bench.ts', nodeArgs: ['--expose-gc'], timeoutMs: 5 * 60_000 },
  convergence: { file: 'convergence.bench.ts', nodeArgs: [], timeoutMs: 90 * 60_000 },
  traffic: { file: 'traffic.bench.ts', nodeArgs: [], timeoutMs: 20 * 60_000, netns: true },
  brownfield: { file: 'brownfield.bench.ts', nodeArgs: [], timeoutMs: 30 * 60_000 },
  // The host-claims index is measured in-process with forced GCs.
  shards: { file: 'shards.bench.ts', nodeArgs: ['--expose-gc'], timeoutMs: 180 * 60_000 },
  // Node 24 against Node 20 (and the V8 flags): not in `all`, three planes of N Deployments.
  runtime: { file: 'runtime.bench.ts', nodeArgs: [], timeoutMs: 120 * 60_000 },
};
const ALIASES: Record<string, string> = { 'reconcile-path': 'micro', macro: 'convergence' };

function usage(): never {
  console.error('usage: npm run bench [-- [micro|convergence|traffic|brownfield|shards|runtime|all] [options of that benchmark]]  (see tools/bench/README.md)');
  process.exit(2);
}

const RESULTS = join(here, 'results');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const summary: string[][] = [];

function runBench(name: string, args: string[]): Promise<number> {
  const bench = BENCHES[name]!;
  mkdirSync(RESULTS, { recursive: true });
  const raw = createWriteStream(join(RESULTS, `${stamp}-${name}.txt`));
  return new Promise((resolve) => {
    const node = [process.execPath, ...bench.nodeArgs, '--import', 'tsx', join(here, bench.file), ...args];
    const [cmd, ...cmdArgs] = bench.netns ? [process.execPath, join(here, '..', 'scripts', 'in-netns.mjs'), '--label', `${name} benchmark`, '--', ...node] : node;
    const child = spawn(cmd!, cmdArgs, {
      stdio: ['inherit', 'pipe', 'inherit'],
      env: bench.netns ? { ...process.env, EKSPOSE_TRAFFIC_IF_SUPPORTED: '1' } : process.env,
    });
    // Printed as it comes, kept whole in results/, and the summary lines gathered.
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      process.stdout.write(chunk);
      raw.write(chunk);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const fields = parseSummaryLine(line);
        if (fields) summary.push(fields);
      }
    });
    const timer = setTimeout(() => {
      console.error(`\n${name}: still running after ${bench.timeoutMs / 60_000} min; stopping it`);
      child.kill('SIGTERM');
    }, bench.timeoutMs);
    // A SIGTERM sent to us alone is passed on; either way we wait for the child to clean up.
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGTERM', forward);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGTERM', forward);
      raw.end();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const argv = process.argv.slice(2);
const first = argv[0];
let plan: Array<[string, string[]]>;
if (first === '--deployments') {
  // Only the convergence benchmark depends on the cluster's size.
  if (!/^\d+$/.test(argv[1] ?? '')) usage();
  plan = [['convergence', argv]];
} else if (first === undefined || first === 'all' || /^\d+$/.test(first)) {
  const rest = first === 'all' ? argv.slice(1) : argv;
  if (rest.some((a) => !/^\d+$/.test(a))) usage();
  plan = [
    ['micro', []],
    ['convergence', rest],
    ['traffic', []],
    ['brownfield', []],
  ];
} else {
  const name = ALIASES[first] ?? first;
  if (!BENCHES[name]) usage();
  plan = [[name, argv.slice(1)]];
}

// Ctrl-C reaches the running benchmark too (same process group): it stops its control plane, and we report its exit.
process.on('SIGINT', () => undefined);

const cpu = cpus();
const [load1, load5] = loadavg();
console.log(
  `# ekspose benchmarks — ${new Date().toISOString()}\n` +
    `machine: ${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ` +
    `load average ${load1!.toFixed(2)} / ${load5!.toFixed(2)} (1 / 5 min) at start: other work on the machine shows up as spread.`,
);
const started = Date.now();
const failed: string[] = [];
for (const [name, args] of plan) {
  const code = await runBench(name, args);
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}
if (summary.length > 0) {
  console.log(`\n## summary (each benchmark's output: tools/bench/results/${stamp}-<name>.txt)\n`);
  console.log(table(['benchmark', 'figure', 'ekspose', 'baseline', 'ratio'], summary));
}
console.log(`\nbenchmarks finished in ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length > 0 ? `; FAILED: ${failed.join(', ')}` : ''}`);
process.exit(failed.length > 0 ? 1 : 0);
