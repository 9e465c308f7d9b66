// Real traffic for the traffic suite: a fake node whose pods get IPs in a
// private range (kwok), a real ingress proxy that routes by the cluster's
// Ingresses and EndpointSlices (skipper, fed through `kubectl proxy`), and tiny
// HTTP servers standing in for the pods' containers on those IPs.
//
// Everything runs inside a network namespace of its own (see
// tools/scripts/in-netns.mjs): the API server refuses loopback addresses in
// EndpointSlices, so the pods' IPs are 10.77.0.x, which exist only on that
// namespace's `lo`. No request ever leaves it.
import { type ClientRequest, type IncomingMessage, createServer, request, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane';
import { DEFAULT_CONTROLLERS } from './start-control-plane';
import { freePorts } from './http-probe';
import { startProcess, type ProcessHandle } from './process-handle';
import { waitUntilReady } from './wait-ready';

/** The private range pods get their IPs from; it lives on the namespace's `lo`. */
export const TRAFFIC_CIDR = '10.77.0.0/24';
/** The node's own address, and the one `lo` carries for the range. */
export const TRAFFIC_NODE_IP = '10.77.0.1';
export const FAKE_NODE_NAME = 'kwok-node-0';

/**
 * kube-controller-manager controllers the traffic suite needs on top of the
 * defaults: Deployments make ReplicaSets make pods, and Services get
 * EndpointSlices naming the pods kwok marked Ready.
 */
export const TRAFFIC_CONTROLLERS = [
  ...DEFAULT_CONTROLLERS,
  'deployment-controller',
  'replicaset-controller',
  'endpointslice-controller',
] as const;

/**
 * Why this process cannot run the traffic suite, or undefined when it can: it
 * must be in a network namespace of its own whose only interface is `lo`
 * carrying {@link TRAFFIC_NODE_IP} (what tools/scripts/in-netns.mjs makes).
 */
export function privateNetworkProblem(): string | undefined {
  const interfaces = networkInterfaces();
  const names = Object.keys(interfaces);
  if (names.some((n) => n !== 'lo')) {
    return `not in a private network namespace (interfaces: ${names.join(', ')}); run it through tools/scripts/in-netns.mjs (npm run test:traffic does)`;
  }
  if (!(interfaces['lo'] ?? []).some((a) => a.address === TRAFFIC_NODE_IP)) {
    return `lo does not carry ${TRAFFIC_NODE_IP}; run it through tools/scripts/in-netns.mjs (npm run test:traffic does)`;
  }
  return undefined;
}

export interface FakeNode {
  readonly name: string;
  readonly process: ProcessHandle;
  stop(): Promise<void>;
}

/**
 * Registers a Node and starts kwok to play its kubelet with the stages kwok
 * ships: the node turns Ready, pods bound to it turn Running and Ready with an
 * IP from {@link TRAFFIC_CIDR}, deleted pods go. Pods reach it by
 * `spec.nodeName` (no scheduler runs here).
 */
export async function startFakeNode(plane: ControlPlane, opts: { binDir: string; name?: string; timeoutMs?: number }): Promise<FakeNode> {
  const name = opts.name ?? FAKE_NODE_NAME;
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, type: 'kwok' }, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    spec: { podCIDR: TRAFFIC_CIDR, podCIDRs: [TRAFFIC_CIDR] },
  };
  const applied = await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify(node) });
  if (applied.code !== 0) throw new Error(`could not create Node ${name}: ${applied.stderr}`);
  const handle = startProcess({
    name: 'kwok',
    cmd: join(opts.binDir, 'kwok'),
    args: [
      `--kubeconfig=${plane.kubeconfigPath}`,
      `--config=${join(opts.binDir, 'kwok-stages.yaml')}`,
      `--manage-single-node=${name}`,
      `--cidr=${TRAFFIC_CIDR}`,
      `--node-ip=${TRAFFIC_NODE_IP}`,
      // No kubelet API: nothing here execs into or port-forwards to a pod.
      '--server-address=',
    ],
    logFile: join(plane.dir, 'kwok.log'),
  });
  try {
    await waitUntilReady(
      handle,
      async () => {
        const res = await plane.kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return res.stdout.trim() === 'True' ? true : `node ${name} Ready=${res.stdout.trim() || 'unknown'}`;
      },
      opts.timeoutMs ?? 60_000,
    );
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return { name, process: handle, stop: () => handle.stop().then(() => undefined) };
}

export interface IngressProxy {
  /** http://127.0.0.1:<port>: send requests here with the Host of an Ingress rule. */
  readonly url: string;
  readonly skipper: ProcessHandle;
  readonly kubectlProxy: ProcessHandle;
  /** GET `path` with `Host: host`; status 0 when nothing answered. */
  get(host: string, path?: string, timeoutMs?: number): Promise<ProxyAnswer>;
  stop(): Promise<void>;
}

export interface ProxyAnswer {
  status: number;
  body: string;
}

/**
 * Starts skipper as the cluster's ingress proxy: it reads Ingresses and
 * EndpointSlices through `kubectl proxy` (it takes no kubeconfig) and sends
 * each request straight to a pod IP of the matching rule's Service.
 * `pollMs` is how often skipper re-reads the API (its default is 3000 ms).
 */
export async function startIngressProxy(
  plane: ControlPlane,
  opts: { binDir: string; ingressClass?: string; pollMs?: number; timeoutMs?: number },
): Promise<IngressProxy> {
  const [apiPort, proxyPort, supportPort] = await freePorts(3);
  const kubectlProxy = startProcess({
    name: 'kubectl-proxy',
    cmd: join(plane.binDir, 'kubectl'),
    args: [`--kubeconfig=${plane.kubeconfigPath}`, 'proxy', '--address=127.0.0.1', `--port=${apiPort}`],
    logFile: join(plane.dir, 'kubectl-proxy.log'),
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const stopAll = async (...handles: ProcessHandle[]) => {
    await Promise.all(handles.map((h) => h.stop()));
  };
  try {
    await waitUntilReady(kubectlProxy, async () => ((await answer(`http://127.0.0.1:${apiPort}/readyz`)).status === 200 ? true : 'no answer'), timeoutMs);
  } catch (error) {
    await stopAll(kubectlProxy);
    throw error;
  }
  const skipper = startProcess({
    name: 'skipper',
    cmd: join(opts.binDir, 'skipper'),
    args: [
      '-kubernetes',
      `-kubernetes-url=http://127.0.0.1:${apiPort}`,
      '-enable-kubernetes-endpointslices',
      ...(opts.ingressClass ? [`-kubernetes-ingress-class=${opts.ingressClass}`] : []),
      `-address=127.0.0.1:${proxyPort}`,
      `-support-listener=127.0.0.1:${supportPort}`,
      `-source-poll-timeout=${opts.pollMs ?? 3000}`,
      '-wait-first-route-load',
      // Its default waits 45 s on SIGTERM for a load balancer that does not exist here.
      '-wait-for-healthcheck-interval=0s',
      '-application-log-level=INFO',
      '-access-log-disabled',
    ],
    logFile: join(plane.dir, 'skipper.log'),
  });
  const url = `http://127.0.0.1:${proxyPort}`;
  try {
    await waitUntilReady(skipper, async () => ((await answer(`${url}/`)).status !== 0 ? true : 'not listening yet'), timeoutMs);
  } catch (error) {
    await stopAll(skipper, kubectlProxy);
    throw error;
  }
  return {
    url,
    skipper,
    kubectlProxy,
    get: (host, path = '/', ms) => answer(`${url}${path}`, host, ms),
    stop: () => stopAll(skipper, kubectlProxy),
  };
}

/**
 * One GET, never throwing: status 0 when the connection failed or timed out.
 * node:http, not fetch: fetch does not let a caller set the Host header.
 */
export function answer(url: string, host?: string, timeoutMs = 2000): Promise<ProxyAnswer> {
  return new Promise((resolve) => {
    settle(request(url, { headers: host ? { host } : {}, timeout: timeoutMs, agent: false }, (res) => readAnswer(res, resolve)), resolve);
  });
}

/** The status and whole body of a response; status 0 when it broke off. */
export function readAnswer(res: IncomingMessage, resolve: (a: ProxyAnswer) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (body += chunk));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  res.on('error', () => resolve({ status: 0, body: '' }));
}

/** Sends the request; a timeout or a failed connection answers status 0 (with why, in the body). */
export function settle(req: ClientRequest, resolve: (a: ProxyAnswer) => void): void {
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => resolve({ status: 0, body: err.message }));
  req.end();
}

export interface Outage {
  /** From the first failed request to the last, plus one poll interval; 0 when none failed. */
  failedMs: number;
  failures: number;
  statuses: Set<number>;
}

const OUTAGE_POLL_MS = 50;

/**
 * What a client polling `host` every 50 ms sees while `act` (or whatever the
 * caller just did) breaks something:
 * it polls until `repaired()` holds and requests have succeeded for a second
 * in a row since. Throws when that has not happened within `boundMs`.
 */
export async function outageDuring(
  proxy: Pick<IngressProxy, 'get'>,
  host: string,
  opts: { act?: () => Promise<void>; repaired: () => Promise<boolean> | boolean; boundMs: number },
): Promise<Outage> {
  let firstFailure: number | undefined;
  let lastFailure: number | undefined;
  let failures = 0;
  const statuses = new Set<number>();
  let okSince: number | undefined;
  let isRepaired = false;
  const deadline = Date.now() + opts.boundMs;
  await opts.act?.();
  for (;;) {
    const at = Date.now();
    const res = await proxy.get(host, '/', 1000);
    if (res.status === 200) {
      okSince ??= at;
      isRepaired ||= await opts.repaired();
      if (isRepaired && at - okSince >= 1000) break;
    } else {
      failures++;
      statuses.add(res.status);
      firstFailure ??= at;
      lastFailure = at;
      okSince = undefined;
    }
    if (Date.now() > deadline) {
      throw new Error(`${host}: ${isRepaired ? 'no steady 200' : 'not repaired'} within ${opts.boundMs} ms (statuses ${[...statuses].join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, OUTAGE_POLL_MS));
  }
  return { failedMs: firstFailure === undefined ? 0 : lastFailure! - firstFailure! + OUTAGE_POLL_MS, failures, statuses };
}

export interface Backend {
  readonly ip: string;
  readonly port: number;
  /** Requests answered so far. */
  readonly served: number;
  close(): Promise<void>;
}

/**
 * A pod's container, as far as traffic can tell: an HTTP server on the pod's IP
 * and port answering every request with `<name> <port> <path>`.
 */
export async function startBackend(opts: { ip: string; port: number; name: string }): Promise<Backend> {
  let served = 0;
  const server: Server = createServer((req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${opts.name} ${opts.port} ${req.url ?? ''}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.ip, () => resolve());
  });
  return {
    ip: opts.ip,
    port: opts.port,
    get served() {
      return served;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
