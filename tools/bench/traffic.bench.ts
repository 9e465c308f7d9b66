// traffic (macro): what a user of the app sees, through a real ingress proxy.
//
// skipper routes by the cluster's Ingresses and EndpointSlices to pods kwok
// runs on a fake node (IPs in 10.77.0.0/24, answered by one server on
// 0.0.0.0:8080 of this private network namespace); the three controllers run
// from their bundles as the manifests run them. Run by `npm run bench -- traffic`
// through tools/scripts/in-netns.mjs.
//
//   create -> first 200: a Deployment created, until the proxy answers 200 for
//     its host; against a baseline in the same run and on the same plane: the
//     same Deployment with its Service and Ingress created by hand at once (what
//     is left is kwok, the endpointslice controller and skipper's poll).
//   outage: a client polling every 50 ms while a user deletes the Service, then
//     the Ingress; how long its requests failed, and how long the object was gone.
//
//   node tools/scripts/in-netns.mjs -- node --import tsx tools/bench/traffic.bench.ts [--n 20] [--outages 5] [--poll-ms 250] [--no-build]
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients, statusCodeOf } from '@ekspose/k8s';
import { parseExposeSpec } from '@ekspose/labels';
import { desiredIngress, desiredService, loadSettings } from '@ekspose/expose';
import {
  type ControlPlane,
  type IngressProxy,
  type ProcessHandle,
  FAKE_NODE_NAME,
  TRAFFIC_CONTROLLERS,
  ensureTrafficBinaries,
  outageDuring,
  privateNetworkProblem,
  startControlPlane,
  startFakeNode,
  startIngressProxy,
  workspaceRoot,
} from '@ekspose/testing';
import { intOption, parseArgs } from './lib/args';
import { CONTROLLER_NAMESPACE, startBenchController } from './lib/controller-process';
import { fmt, quantile, table } from './lib/stats';
import { summaryLine } from './lib/summary';

const APPS = ['deployment-controller', 'service-controller', 'ingress-controller'] as const;
const DOMAIN = 'bench.test';
const EKSPOSE_NS = 'bench-ekspose';
const RAW_NS = 'bench-raw';
const PORT = 8080;
const BOUND_MS = 60_000;

const progress = (line: string) => process.stderr.write(`[traffic] ${line}\n`);

function deployment(namespace: string, name: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { ingReq: 'needed', port: String(PORT) } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { nodeName: FAKE_NODE_NAME, containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: PORT }] }] },
      },
    },
  };
}

/** The Service and Ingress ekspose would make for `dep`, from its own builders. */
function byHand(dep: V1Deployment) {
  const loaded = loadSettings({ EKSPOSE_DOMAIN: DOMAIN });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const parsed = parseExposeSpec(dep, loaded.settings);
  if (parsed.kind !== 'expose') throw new Error(`${dep.metadata!.name} is not exposed`);
  return { service: desiredService(parsed.spec), ingress: desiredIngress(parsed.spec)! };
}

/** Polls the proxy every `intervalMs` until `ok`; the time of the first answer that was. */
async function until(proxy: IngressProxy, host: string, ok: (status: number) => boolean, intervalMs: number): Promise<number> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const { status } = await proxy.get(host, '/', 1000);
    if (ok(status)) return Date.now();
    if (Date.now() > deadline) throw new Error(`${host}: no ${ok(200) ? '200' : 'change'} through the proxy within ${BOUND_MS} ms (last ${status})`);
    await sleep(intervalMs);
  }
}

async function createToFirstOk(clients: KubeClients, proxy: IngressProxy, how: 'ekspose' | 'by hand', i: number): Promise<number> {
  const namespace = how === 'ekspose' ? EKSPOSE_NS : RAW_NS;
  const name = `app-${i}`;
  const started = Date.now();
  const created = await clients.apps.createNamespacedDeployment({ namespace, body: deployment(namespace, name) });
  if (how === 'by hand') {
    const { service, ingress } = byHand(created);
    await Promise.all([
      clients.core.createNamespacedService({ namespace, body: service as never }),
      clients.networking.createNamespacedIngress({ namespace, body: ingress as never }),
    ]);
  }
  return (await until(proxy, `${name}.${namespace}.${DOMAIN}`, (s) => s === 200, 10)) - started;
}

interface Outage {
  failedMs: number;
  goneMs: number;
}

/** A user deletes the app's `kind`; a client polls every 50 ms until 200 again for a second, with the object back. */
async function outage(clients: KubeClients, proxy: IngressProxy, kind: 'Service' | 'Ingress', name: string): Promise<Outage> {
  const host = `${name}.${EKSPOSE_NS}.${DOMAIN}`;
  const read = () =>
    kind === 'Service'
      ? clients.core.readNamespacedService({ namespace: EKSPOSE_NS, name })
      : clients.networking.readNamespacedIngress({ namespace: EKSPOSE_NS, name });
  const uid = (await read()).metadata!.uid;
  const gone = Date.now();
  if (kind === 'Service') await clients.core.deleteNamespacedService({ namespace: EKSPOSE_NS, name });
  else await clients.networking.deleteNamespacedIngress({ namespace: EKSPOSE_NS, name });
  // The object's gap, read from the API as fast as it answers.
  let back: number | undefined;
  const watchBack = (async () => {
    while (back === undefined && Date.now() - gone < BOUND_MS) {
      try {
        if ((await read()).metadata!.uid !== uid) back = Date.now();
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw err;
      }
    }
  })();
  const seen = await outageDuring(proxy, host, { repaired: () => back !== undefined, boundMs: BOUND_MS }).catch((err: Error) => {
    throw new Error(`${kind} ${name}: ${err.message}`);
  });
  await watchBack;
  return { failedMs: seen.failedMs, goneMs: back! - gone };
}

const row = (label: string, values: readonly number[]) => [
  label,
  String(values.length),
  fmt(quantile(values, 0.5)),
  fmt(quantile(values, 0.99)),
  fmt(Math.max(...values)),
];

/** The three controllers from their bundles, as the manifests run them, each leading its Lease; into `controllers` as they start, to be stopped. */
async function startControllers(plane: ControlPlane, controllers: ProcessHandle[]): Promise<void> {
  for (const app of APPS) {
    // The baseline's namespace is not ekspose's business.
    const { handle } = await startBenchController(plane, { app, identity: app, domain: DOMAIN, env: { EKSPOSE_WATCH_NAMESPACES: EKSPOSE_NS } });
    controllers.push(handle);
    await handle.waitForLog('started leading', { timeoutMs: 30_000 });
  }
}

function report(r: { pollMs: number; n: number; viaEkspose: number[]; viaHand: number[]; outages: Record<'Service' | 'Ingress', Outage[]> }): void {
  const { pollMs, n, viaEkspose, viaHand } = r;
  const results = r.outages;
  console.log(`\n## traffic: real requests through skipper (polls the API every ${pollMs} ms) to pods kwok runs`);
  console.log(`\ncreate -> first 200 through the proxy, ms (${n} Deployments each way, one at a time):\n`);
  console.log(table(['how the Service and Ingress came', 'n', 'p50', 'p99', 'max'], [row('ekspose', viaEkspose), row('baseline: by hand, with the Deployment', viaHand)]));
  const extra = quantile(viaEkspose, 0.5) - quantile(viaHand, 0.5);
  summaryLine('traffic', 'create -> first 200 through the proxy, p50 (ms)', fmt(quantile(viaEkspose, 0.5)), `${fmt(quantile(viaHand, 0.5))} (made by hand)`);
  console.log(`\n  ekspose adds ${fmt(extra)} ms at the median over objects made by hand at once; the rest is kwok, the endpointslice controller and the proxy's poll.`);
  console.log(`\nA user deletes an object; a client polls every 50 ms (ms; without ekspose it never comes back: the traffic suite proves that):\n`);
  console.log(
    table(
      ['deleted', 'n', 'requests failed p50', 'max', 'object gone p50', 'max'],
      (['Service', 'Ingress'] as const).map((kind) => {
        const failed = results[kind].map((o) => o.failedMs);
        const gone = results[kind].map((o) => o.goneMs);
        return [kind, String(failed.length), fmt(quantile(failed, 0.5)), fmt(Math.max(...failed)), fmt(quantile(gone, 0.5)), fmt(Math.max(...gone))];
      }),
    ),
  );
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const n = intOption(args, 'n', 20);
  const outages = intOption(args, 'outages', 5);
  const pollMs = intOption(args, 'poll-ms', 250);
  const problem = privateNetworkProblem();
  if (problem) throw new Error(problem);
  if (!args.options.has('no-build')) {
    for (const app of APPS) {
      const built = spawnSync(process.execPath, ['tools/scripts/bundle.mjs', app], { cwd: workspaceRoot(), stdio: ['ignore', 'ignore', 'inherit'] });
      if (built.status !== 0) throw new Error(`bundling ${app} failed`);
    }
  }
  const binDir = await ensureTrafficBinaries({ log: progress });
  const plane = await startControlPlane({ controllers: TRAFFIC_CONTROLLERS, log: () => undefined });
  // Every pod's container: one server on all of the namespace's addresses, so a pod answers as soon as it has its IP.
  const backend = createServer((req, res) => res.end(`${req.socket.localAddress} ${req.url}`));
  await new Promise<void>((resolve) => backend.listen(PORT, '0.0.0.0', resolve));
  const controllers: ProcessHandle[] = [];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const clients = createKubeClients(kc);
    for (const ns of [CONTROLLER_NAMESPACE, EKSPOSE_NS, RAW_NS]) await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    const node = await startFakeNode(plane, { binDir });
    const proxy = await startIngressProxy(plane, { binDir, pollMs });
    await startControllers(plane, controllers);

    progress(`create -> first 200: ${n} Deployments each way, one at a time, alternating`);
    const viaEkspose: number[] = [];
    const viaHand: number[] = [];
    for (let i = 0; i < n; i++) {
      // Alternating which goes first: a plane getting busier or quieter over the run favours neither.
      const order = i % 2 === 0 ? (['ekspose', 'by hand'] as const) : (['by hand', 'ekspose'] as const);
      for (const how of order) (how === 'ekspose' ? viaEkspose : viaHand).push(await createToFirstOk(clients, proxy, how, i));
    }

    progress(`outages: ${outages} Service and ${outages} Ingress deletions, a client polling every 50 ms`);
    const results: Record<'Service' | 'Ingress', Outage[]> = { Service: [], Ingress: [] };
    for (let k = 0; k < outages; k++) {
      for (const kind of ['Service', 'Ingress'] as const) results[kind].push(await outage(clients, proxy, kind, `app-${k % n}`));
    }

    report({ pollMs, n, viaEkspose, viaHand, outages: results });
    await proxy.stop();
    await node.stop();
  } finally {
    await Promise.all(controllers.map((c) => c.stop()));
    backend.close();
    await plane.stop();
  }
}

await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`\ntraffic bench FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
