// A real Gateway API implementation for the traffic suite: Traefik (built by
// `tools/controlplane/build.sh traffic`) with its kubernetesgateway provider,
// and its kubernetesingress provider too, so one proxy serves a Deployment
// while it moves from an Ingress to an HTTPRoute and back. It reads the API
// server with the plane's admin kubeconfig (KUBECONFIG), sends each request
// straight to a pod IP from the Service's EndpointSlices, and writes the
// routes' and Gateways' status as it would in a cluster.
//
// The test makes the GatewayClass (Traefik's controllerName) and its Gateways;
// Traefik binds each listener to the entrypoint with the listener's port, so
// the listeners carry the ports Traefik was started on.
import { type RequestOptions, request as httpsRequest } from 'node:https';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane';
import { freePorts } from './http-probe';
import { startProcess, type ProcessHandle } from './process-handle';
import { runCaptured } from './run-captured';
import { type ProxyAnswer, answer, readAnswer, settle } from './traffic';
import { waitUntilReady } from './wait-ready';

/** Traefik's Gateway controller name (pkg/provider/kubernetes/gateway: controllerName). */
export const TRAEFIK_CONTROLLER_NAME = 'traefik.io/gateway-controller';

export interface GatewayProxy {
  /** The entrypoint a Gateway's HTTP listener must use as its port. */
  readonly httpPort: number;
  /** The entrypoint a Gateway's HTTPS listener must use as its port. */
  readonly httpsPort: number;
  readonly traefik: ProcessHandle;
  /** GET `path` with `Host: host` on the HTTP entrypoint; status 0 when nothing answered. */
  get(host: string, path?: string, timeoutMs?: number): Promise<ProxyAnswer>;
  /**
   * GET an https:// URL as given (SNI and Host from it), every name resolving to
   * this machine, trusting only `ca`: what a client sees at a URL a user was told.
   */
  getTls(url: string, ca: string, timeoutMs?: number): Promise<ProxyAnswer>;
  stop(): Promise<void>;
}

/** Starts Traefik on loopback: `web` (HTTP), `websecure` (TLS per Gateway listener), and `/ping` for readiness. */
export async function startGatewayProxy(plane: ControlPlane, opts: { binDir: string; timeoutMs?: number }): Promise<GatewayProxy> {
  const [httpPort, httpsPort, pingPort] = await freePorts(3);
  const traefik = startProcess({
    name: 'traefik',
    cmd: join(opts.binDir, 'traefik'),
    args: [
      `--entrypoints.web.address=127.0.0.1:${httpPort}`,
      `--entrypoints.websecure.address=127.0.0.1:${httpsPort}`,
      `--entrypoints.ping.address=127.0.0.1:${pingPort}`,
      '--ping=true',
      '--ping.entrypoint=ping',
      '--providers.kubernetesgateway=true',
      '--providers.kubernetesingress=true',
      // Never call home (there is no route out of the namespace anyway).
      '--global.checknewversion=false',
      '--global.sendanonymoususage=false',
      '--log.level=INFO',
    ],
    env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
    logFile: join(plane.dir, 'traefik.log'),
  });
  try {
    await waitUntilReady(traefik, async () => ((await answer(`http://127.0.0.1:${pingPort}/ping`)).status === 200 ? true : 'no answer on /ping'), opts.timeoutMs ?? 60_000);
  } catch (error) {
    await traefik.stop();
    throw error;
  }
  return {
    httpPort,
    httpsPort,
    traefik,
    get: (host, path = '/', ms) => answer(`http://127.0.0.1:${httpPort}${path}`, host, ms),
    getTls: (url, ca, ms) => tlsAnswer(url, ca, ms),
    stop: () => traefik.stop().then(() => undefined),
  };
}

function tlsAnswer(url: string, ca: string, timeoutMs = 2000): Promise<ProxyAnswer> {
  return new Promise((resolve) => {
    const options = {
      ca,
      timeout: timeoutMs,
      agent: false,
      // As if the name resolved to the Gateway's address: this machine.
      lookup: (_host: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) =>
        opts.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4),
    };
    settle(httpsRequest(url, options as RequestOptions, (res) => readAnswer(res, resolve)), resolve);
  });
}

export interface ServingCertificate {
  /** PEM: the self-signed certificate, which is its own CA. */
  cert: string;
  key: string;
}

/** A throw-away self-signed certificate for `hostnames` (wildcards allowed), for a TLS Secret. */
export async function selfSignedCertificate(hostnames: string[]): Promise<ServingCertificate> {
  const dir = await mkdtemp(join(process.env.TMPDIR ?? '/tmp', 'ekspose-tls-'));
  const [certPath, keyPath] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
  const made = await runCaptured('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${hostnames[0]}`,
    '-addext', `subjectAltName=${hostnames.map((h) => `DNS:${h}`).join(',')}`,
  ]);
  if (made.code !== 0) throw new Error(`openssl req failed: ${made.stderr}`);
  return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
}
