// traffic (macro): what a user of the app sees, through a real ingress proxy
// and a real Gateway.
//
// skipper routes by the cluster's Ingresses, and Traefik (its kubernetesgateway
// provider) by its HTTPRoutes, with the EndpointSlices, to pods kwok runs on a fake node (IPs in 10.77.0.0/24, answered by one server on
// 0.0.0.0:8080 of this private network namespace); the three controllers run
// from their bundles as the manifests run them. Run by `npm run bench -- traffic`
// through tools/scripts/in-netns.mjs.
//
//   create -> first 200: a Deployment created, until the proxy answers 200 for
//     its host; against a baseline in the same run and on the same plane: the
//     same Deployment with its Service and Ingress (HTTPRoute) created by hand at
//     once (what is left is kwok, the endpointslice controller and the proxy's
//     reload: skipper polls, Traefik watches).
//   outage: a client polling every 50 ms while a user deletes the Service, then
//     the Ingress (HTTPRoute); how long its requests failed, and how long the object was gone.
//
//   node tools/scripts/in-netns.mjs -- node --import tsx tools/bench/traffic.bench.ts [--n 20] [--outages 5] [--poll-ms 250] [--no-build]
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients, statusCodeOf } from '@ekspose/k8s';
import { parseExposeSpec } from '@ekspose/labels';
import { HTTP_ROUTES, desiredHttpRoute, desiredIngress, desiredService, loadSettings } from '@ekspose/expose';
import {
  type ControlPlane,
  type ProcessHandle,
  type ProxyAnswer,
  TRAEFIK_CONTROLLER_NAME,
  FAKE_NODE_NAME,
  TRAFFIC_CONTROLLERS,
  ensureTrafficBinaries,
  outageDuring,
  privateNetworkProblem,
  startControlPlane,
  startFakeNode,
  startGatewayProxy,
  startIngressProxy,
} from '@ekspose/testing';
import { intOption, parseArgs } from './lib/args';
import { bundleApps } from './lib/cluster';
import { CONTROLLER_NAMESPACE, startBenchController } from './lib/controller-process';
import { fmt, quantile, table } from './lib/stats';
import { summaryLine } from './lib/summary';

const APPS = ['deployment-controller', 'service-controller', 'ingress-controller'] as const;
const DOMAIN = 'bench.test';
const EKSPOSE_NS = 'bench-ekspose';
const RAW_NS = 'bench-raw';
const PORT = 8080;
const BOUND_MS = 60_000;
/** Where the bench's Gateway lives. */
const INFRA_NS = 'bench-infra';

type RouteKind = 'Ingress' | 'HTTPRoute';
type Deleted = 'Service' | RouteKind;
/** A proxy: skipper for Ingresses, Traefik for HTTPRoutes. */
interface Proxy {
  get(host: string, path?: string, timeoutMs?: number): Promise<ProxyAnswer>;
}
const ROUTE_ANNOTATIONS: Record<RouteKind, Record<string, string>> = {
  Ingress: {},
  HTTPRoute: { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': `${INFRA_NS}/public` },
};
/** Names apart per route kind: both kinds' apps share the namespaces. */
const appName = (route: RouteKind, i: number) => `${route === 'Ingress' ? 'app' : 'rt'}-${i}`;

const progress = (line: string) => process.stderr.write(`[traffic] ${line}\n`);

function deployment(namespace: string, name: string, annotations: Record<string, string>): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { ingReq: 'needed', port: String(PORT) }, annotations },
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

/** The Service and Ingress (or HTTPRoute) ekspose would make for `dep`, from its own builders, created at once. */
async function createByHand(clients: KubeClients, dep: V1Deployment): Promise<void> {
  const loaded = loadSettings({ EKSPOSE_DOMAIN: DOMAIN });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const parsed = parseExposeSpec(dep, loaded.settings);
  if (parsed.kind !== 'expose') throw new Error(`${dep.metadata!.name} is not exposed`);
  const namespace = dep.metadata!.namespace!;
  const route = desiredHttpRoute(parsed.spec);
  await Promise.all([
    clients.core.createNamespacedService({ namespace, body: desiredService(parsed.spec) as never }),
    route
      ? clients.custom.createNamespacedCustomObject({ ...HTTP_ROUTES, namespace, body: route })
      : clients.networking.createNamespacedIngress({ namespace, body: desiredIngress(parsed.spec)! as never }),
  ]);
}

/** Polls the proxy every `intervalMs` until `ok`; the time of the first answer that was. */
async function until(proxy: Proxy, host: string, ok: (status: number) => boolean, intervalMs: number): Promise<number> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const { status } = await proxy.get(host, '/', 1000);
    if (ok(status)) return Date.now();
    if (Date.now() > deadline) throw new Error(`${host}: no ${ok(200) ? '200' : 'change'} through the proxy within ${BOUND_MS} ms (last ${status})`);
    await sleep(intervalMs);
  }
}

async function createToFirstOk(clients: KubeClients, proxy: Proxy, route: RouteKind, how: 'ekspose' | 'by hand', i: number): Promise<number> {
  const namespace = how === 'ekspose' ? EKSPOSE_NS : RAW_NS;
  const name = appName(route, i);
  const started = Date.now();
  const created = await clients.apps.createNamespacedDeployment({ namespace, body: deployment(namespace, name, ROUTE_ANNOTATIONS[route]) });
  if (how === 'by hand') await createByHand(clients, created);
  return (await until(proxy, `${name}.${namespace}.${DOMAIN}`, (s) => s === 200, 10)) - started;
}

interface Outage {
  failedMs: number;
  goneMs: number;
}

/** A user deletes the app's `kind`; a client polls every 50 ms until 200 again for a second, with the object back. */
async function outage(clients: KubeClients, proxy: Proxy, kind: Deleted, name: string): Promise<Outage> {
  const host = `${name}.${EKSPOSE_NS}.${DOMAIN}`;
  const namespace = EKSPOSE_NS;
  const read = async (): Promise<{ metadata?: { uid?: string } }> =>
    kind === 'Service'
      ? clients.core.readNamespacedService({ namespace, name })
      : kind === 'Ingress'
        ? clients.networking.readNamespacedIngress({ namespace, name })
        : ((await clients.custom.getNamespacedCustomObject({ ...HTTP_ROUTES, namespace, name })) as { metadata?: { uid?: string } });
  const uid = (await read()).metadata!.uid;
  const gone = Date.now();
  if (kind === 'Service') await clients.core.deleteNamespacedService({ namespace, name });
  else if (kind === 'Ingress') await clients.networking.deleteNamespacedIngress({ namespace, name });
  else await clients.custom.deleteNamespacedCustomObject({ ...HTTP_ROUTES, namespace, name });
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

interface RouteResults {
  viaEkspose: number[];
  viaHand: number[];
  outages: Partial<Record<Deleted, Outage[]>>;
}

const PROXY_OF: Record<RouteKind, string> = { Ingress: 'skipper', HTTPRoute: 'Traefik' };

function report(r: { pollMs: number; n: number; results: Record<RouteKind, RouteResults> }): void {
  const { pollMs, n } = r;
  console.log(`\n## traffic: real requests through skipper (Ingress; polls the API every ${pollMs} ms) and Traefik (HTTPRoute; watches it) to pods kwok runs`);
  for (const route of ['Ingress', 'HTTPRoute'] as const) {
    const { viaEkspose, viaHand, outages } = r.results[route];
    const proxy = PROXY_OF[route];
    console.log(`\n### ${route}, through ${proxy}\n\ncreate -> first 200, ms (${n} Deployments each way, one at a time):\n`);
    console.log(table([`how the Service and ${route} came`, 'n', 'p50', 'p99', 'max'], [row('ekspose', viaEkspose), row('baseline: by hand, with the Deployment', viaHand)]));
    const extra = quantile(viaEkspose, 0.5) - quantile(viaHand, 0.5);
    summaryLine('traffic', `create -> first 200 through ${proxy} (${route}), p50 (ms)`, fmt(quantile(viaEkspose, 0.5)), `${fmt(quantile(viaHand, 0.5))} (made by hand)`);
    console.log(`\n  ekspose adds ${fmt(extra)} ms at the median over objects made by hand at once; the rest is kwok, the endpointslice controller and ${proxy}.`);
    console.log(`\nA user deletes an object; a client polls every 50 ms (ms; without ekspose it never comes back: the traffic suite proves that):\n`);
    console.log(
      table(
        ['deleted', 'n', 'requests failed p50', 'max', 'object gone p50', 'max'],
        (['Service', route] as const).map((kind) => {
          const failed = (outages[kind] ?? []).map((o) => o.failedMs);
          const gone = (outages[kind] ?? []).map((o) => o.goneMs);
          return [kind, String(failed.length), fmt(quantile(failed, 0.5)), fmt(Math.max(...failed)), fmt(quantile(gone, 0.5)), fmt(Math.max(...gone))];
        }),
      ),
    );
  }
}

/** GatewayClass `traefik` and Gateway bench-infra/public with one HTTP listener on Traefik's `web` entrypoint. */
async function createGateway(clients: KubeClients, httpPort: number): Promise<void> {
  const group = { group: 'gateway.networking.k8s.io', version: 'v1' };
  await clients.custom.createClusterCustomObject({
    ...group,
    plural: 'gatewayclasses',
    body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } },
  });
  await clients.custom.createNamespacedCustomObject({
    ...group,
    plural: 'gateways',
    namespace: INFRA_NS,
    body: {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'public', namespace: INFRA_NS },
      spec: { gatewayClassName: 'traefik', listeners: [{ name: 'http', protocol: 'HTTP', port: httpPort, allowedRoutes: { namespaces: { from: 'All' } } }] },
    },
  });
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const n = intOption(args, 'n', 20);
  const outages = intOption(args, 'outages', 5);
  const pollMs = intOption(args, 'poll-ms', 250);
  const problem = privateNetworkProblem();
  if (problem) throw new Error(problem);
  bundleApps(APPS, !args.options.has('no-build'));
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
    for (const ns of [CONTROLLER_NAMESPACE, EKSPOSE_NS, RAW_NS, INFRA_NS]) await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    await plane.installGatewayApi();
    const node = await startFakeNode(plane, { binDir });
    const skipper = await startIngressProxy(plane, { binDir, pollMs });
    const traefik = await startGatewayProxy(plane, { binDir });
    await createGateway(clients, traefik.httpPort);
    await startControllers(plane, controllers);

    const proxies: Record<RouteKind, Proxy> = { Ingress: skipper, HTTPRoute: traefik };
    const results = {} as Record<RouteKind, RouteResults>;
    for (const route of ['Ingress', 'HTTPRoute'] as const) {
      const proxy = proxies[route];
      progress(`${route}: create -> first 200 through ${PROXY_OF[route]}: ${n} Deployments each way, one at a time, alternating`);
      const r: RouteResults = { viaEkspose: [], viaHand: [], outages: { Service: [], [route]: [] } };
      for (let i = 0; i < n; i++) {
        // Alternating which goes first: a plane getting busier or quieter over the run favours neither.
        const order = i % 2 === 0 ? (['ekspose', 'by hand'] as const) : (['by hand', 'ekspose'] as const);
        for (const how of order) (how === 'ekspose' ? r.viaEkspose : r.viaHand).push(await createToFirstOk(clients, proxy, route, how, i));
      }
      progress(`${route}: outages: ${outages} Service and ${outages} ${route} deletions, a client polling every 50 ms`);
      for (let k = 0; k < outages; k++) {
        for (const kind of ['Service', route] as const) r.outages[kind]!.push(await outage(clients, proxy, kind, appName(route, k % n)));
      }
      results[route] = r;
    }

    report({ pollMs, n, results });
    await traefik.stop();
    await skipper.stop();
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
