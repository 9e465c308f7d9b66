// The runtime benchmark: the same burst on Node 24 (what the images run) and on
// Node 20 (what they ran before), and on Node 24 without the manifests' V8 flags,
// in one run. Each contender gets a fresh control plane with all three
// controllers running; N Deployments are created (half want an Ingress), and it
// measures the time to convergence (every Service and Ingress there), then each
// controller's RSS at idle (VmRSS) and its peak (VmHWM).
//
//   npm run bench -- runtime [--deployments 2000] [--rounds 1] [--baseline-node 20.20.2] [--no-build]
//
// The Node binaries come from the npm registry's node-<platform>-<arch> packages,
// unpacked once into ~/.cache/ekspose/node (tools/scripts/lib/ensure-node.mjs).
import { join } from 'node:path';
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients } from '@ekspose/k8s';
import { type ControlPlane, inParallel, startControlPlane } from '@ekspose/testing';
// Plain JS shared with the npm scripts that fetch Node.
import { installNodeBinary, installPinnedNode, pinnedNodeVersion } from '../scripts/lib/ensure-node.mjs';
import { intOption, parseArgs } from './lib/args';
import { SERVICE_RANGE_ARGS, benchDeployment, bundleApps, ensureNamespace } from './lib/cluster';
import {
  type AppName,
  type BenchController,
  CONTROLLER_NAMESPACE,
  manifestNodeOptions,
  memoryOf,
  pollUntil,
  startBenchController,
  waitForIdle,
} from './lib/controller-process';
import { ObjectCounter } from './lib/object-counter';
import { fmt, table } from './lib/stats';
import { summaryLine } from './lib/summary';

const APPS: readonly AppName[] = ['deployment-controller', 'service-controller', 'ingress-controller'];
const NAMESPACES = 20;
const CREATE_CONCURRENCY = 32;
const DOMAIN = 'bench.example';
const MANAGED = encodeURIComponent('app.kubernetes.io/managed-by=ekspose');
const progress = (line: string) => process.stderr.write(`[runtime] ${line}\n`);

interface Contender {
  name: string;
  node: string;
  /** NODE_OPTIONS; undefined = the manifest's. */
  nodeOptions?: string;
}

interface Result {
  contender: string;
  round: number;
  convergedMs: number;
  idleRssKiB: Record<AppName, number>;
  peakRssKiB: Record<AppName, number>;
}

function deployment(i: number): V1Deployment {
  const labels: Record<string, string> = {};
  if (i % 2 === 0) labels.ingReq = 'needed';
  return benchDeployment(`bench-${i % NAMESPACES}`, `app-${i}`, labels);
}

async function createDeployments(clients: KubeClients, n: number): Promise<void> {
  const indexes = Array.from({ length: n }, (_, i) => i);
  await inParallel(indexes, CREATE_CONCURRENCY, (i) => clients.apps.createNamespacedDeployment({ namespace: `bench-${i % NAMESPACES}`, body: deployment(i) }));
}

async function runContender(c: Contender, n: number, round: number): Promise<Result> {
  progress(`${c.name} round ${round}: a fresh control plane`);
  const plane: ControlPlane = await startControlPlane({ controllerManager: false, apiserverExtraArgs: SERVICE_RANGE_ARGS, log: () => undefined });
  const controllers: Partial<Record<AppName, BenchController>> = {};
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const clients = createKubeClients(kc);
    const counter = await ObjectCounter.create(kc);
    await ensureNamespace(clients, CONTROLLER_NAMESPACE);
    for (let k = 0; k < NAMESPACES; k++) await ensureNamespace(clients, `bench-${k}`);
    for (const app of APPS) {
      controllers[app] = await startBenchController(plane, { app, identity: `${app}-${round}`, domain: DOMAIN, node: c.node, nodeOptions: c.nodeOptions });
    }
    for (const app of APPS) await controllers[app]!.handle.waitForLog(/"msg":"started leading"/, { timeoutMs: 60_000 });
    const started = Date.now();
    await createDeployments(clients, n);
    const ingresses = Math.ceil(n / 2);
    await pollUntil(`${n} Services and ${ingresses} Ingresses`, 20 * 60_000, controllers['deployment-controller']!.handle, async () => {
      const [s, i] = await Promise.all([
        counter.count(`/api/v1/services?labelSelector=${MANAGED}`),
        counter.count(`/apis/networking.k8s.io/v1/ingresses?labelSelector=${MANAGED}`),
      ]);
      return s >= n && i >= ingresses ? true : undefined;
    });
    const convergedMs = Date.now() - started;
    progress(`${c.name} round ${round}: converged in ${fmt(convergedMs / 1000, 1)} s; waiting for idle queues`);
    for (const app of APPS) await waitForIdle(controllers[app]!.handle, controllers[app]!.metricsPort, { timeoutMs: 5 * 60_000 });
    const idleRssKiB = {} as Record<AppName, number>;
    const peakRssKiB = {} as Record<AppName, number>;
    for (const app of APPS) {
      const m = memoryOf(controllers[app]!.handle.pid);
      idleRssKiB[app] = m.rssKiB;
      peakRssKiB[app] = m.hwmKiB;
    }
    return { contender: c.name, round, convergedMs, idleRssKiB, peakRssKiB };
  } finally {
    for (const app of APPS) await controllers[app]?.handle.stop(12_000);
    await plane.stop();
  }
}

const mibOf = (kib: number) => fmt(kib / 1024, 0);
/** NaN for no values (a contender that did not run): printed as such, never a made-up figure. */
const median = (xs: number[]) => (xs.length === 0 ? Number.NaN : [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const n = intOption(args, 'deployments', Number(args.positional[0] ?? 2000));
  const rounds = intOption(args, 'rounds', 1);
  const baselineVersion = args.options.get('baseline-node') ?? '20.20.2';
  bundleApps(APPS, !args.options.has('no-build'));
  const node24 = join(installPinnedNode(), 'node');
  const node20 = join(installNodeBinary(baselineVersion), 'node');
  const flags = manifestNodeOptions('deployment-controller');
  const contenders: Contender[] = [
    { name: `Node ${baselineVersion}, manifest flags`, node: node20 },
    { name: `Node ${pinnedNodeVersion()}, manifest flags`, node: node24 },
    { name: `Node ${pinnedNodeVersion()}, no V8 flags`, node: node24, nodeOptions: '' },
  ];
  console.log(`runtime: ${n} Deployments (half with an Ingress) over ${NAMESPACES} namespaces, all three controllers, ${rounds} round(s); manifest flags: ${flags}`);
  const results: Result[] = [];
  // The baseline may not run today's bundle at all (client-node 2 and its undici need Node >= 22):
  // that is a figure too, said in the table; a Node 24 contender that fails is a broken scenario.
  const failed = new Map<string, string>();
  // Rounds interleave the contenders, so a machine that gets busier mid-run weighs on all of them.
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) {
      if (failed.has(c.name)) continue;
      try {
        results.push(await runContender(c, n, round));
      } catch (err) {
        if (c !== contenders[0]) throw err;
        const reason = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => /^\s*\w*Error\b/.test(l)) ?? 'a controller exited at start';
        progress(`${c.name}: did not run (${reason.trim()})`);
        failed.set(c.name, reason.trim());
      }
    }
  }

  const rows = contenders.map((c) => {
    const mine = results.filter((r) => r.contender === c.name);
    if (mine.length === 0) return [c.name, `did not run: ${(failed.get(c.name) ?? '').slice(0, 120)}`, ...APPS.map(() => '-')];
    const conv = median(mine.map((r) => r.convergedMs));
    return [
      c.name,
      fmt(conv / 1000, 1),
      ...APPS.map((a) => `${mibOf(median(mine.map((r) => r.idleRssKiB[a])))} / ${mibOf(median(mine.map((r) => r.peakRssKiB[a])))}`),
    ];
  });
  console.log(`\nmedian of ${rounds} round(s); RSS in MiB, idle / peak (VmRSS / VmHWM)\n`);
  console.log(table(['contender', 'convergence s', ...APPS.map((a) => `${a} RSS`)], rows));
  const base = median(results.filter((r) => r.contender === contenders[0]!.name).map((r) => r.convergedMs));
  const cand = median(results.filter((r) => r.contender === contenders[1]!.name).map((r) => r.convergedMs));
  summaryLine('runtime', `convergence at ${n}, Node 24 vs Node 20 (s)`, fmt(cand / 1000, 1), fmt(base / 1000, 1), `${fmt(base / cand, 2)}x`);
  for (const app of APPS) {
    const peak = (name: string) => median(results.filter((r) => r.contender === name).map((r) => r.peakRssKiB[app]));
    summaryLine('runtime', `${app} peak RSS, Node 24 vs 20 (MiB)`, mibOf(peak(contenders[1]!.name)), mibOf(peak(contenders[0]!.name)));
    summaryLine('runtime', `${app} peak RSS, Node 24 flags vs none (MiB)`, mibOf(peak(contenders[1]!.name)), mibOf(peak(contenders[2]!.name)));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
