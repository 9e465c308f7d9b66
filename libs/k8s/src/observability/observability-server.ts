// Probes and metrics on two ports, as controller-runtime does (:8081 probes,
// :8080 metrics), so a NetworkPolicy or a ServiceMonitor can target one without the other.
// Probes are plain HTTP for the kubelet; metrics are HTTPS with a bearer token
// the API server reviews (metrics-auth.ts), unless a setting asks for plain HTTP.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { MetricsDecision } from './metrics-auth';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface CheckResult {
  ok: boolean;
  details: Record<string, unknown>;
}

export interface ObservabilityServerOptions {
  /** e.g. '0.0.0.0' in a pod, '127.0.0.1' in tests. */
  bindAddress: string;
  /** 0 picks a free port; the one chosen is returned. */
  healthPort: number;
  metricsPort: number;
  registry: Registry;
  /** Liveness: false makes the kubelet restart the container. */
  healthz: () => CheckResult;
  /** Readiness: false takes the pod out of Service endpoints. */
  readyz: () => CheckResult;
  log: Logger;
  /** Serve /metrics over HTTPS with this certificate; plain HTTP without. */
  metricsTls?: { cert: string; key: string };
  /** Who may read /metrics (from the Authorization header); everyone without. */
  authorizeMetrics?: (authorization: string | undefined, path: string) => Promise<MetricsDecision>;
}

export interface ObservabilityServers {
  healthPort: number;
  metricsPort: number;
  /** `https` when /metrics needs a token, else `http`. */
  metricsScheme: 'http' | 'https';
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** The status and body for a probe; a check that throws is a failed check, not a crashed server. */
export function probeResponse(check: () => CheckResult): { status: number; body: CheckResult } {
  try {
    const { ok, details } = check();
    return { status: ok === true ? 200 : 503, body: { ok: ok === true, details } };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: 503, body: { ok: false, details: { error: message } } };
  }
}

function router(routes: Record<string, Handler>, log: Logger): Handler {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    try {
      await route(req, res);
    } catch (error) {
      log.error({ err: error, path }, 'observability handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.end();
    }
  };
}

function probe(check: () => CheckResult): Handler {
  return (_req, res) => {
    const { status, body } = probeResponse(check);
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Scrapers and probes keep connections alive; do not wait for them to go away.
    server.closeAllConnections();
  });
}

export async function startObservabilityServers(opts: ObservabilityServerOptions): Promise<ObservabilityServers> {
  const { log, registry } = opts;
  const health = createServer(
    router({ '/healthz': probe(opts.healthz), '/readyz': probe(opts.readyz) }, log),
  );
  const metricsRoutes = router(
    {
      '/metrics': async (req, res) => {
        if (opts.authorizeMetrics) {
          const decision = await opts.authorizeMetrics(req.headers.authorization, '/metrics');
          if (decision.status !== 200) {
            if (decision.status === 401) res.setHeader('www-authenticate', 'Bearer');
            return send(res, decision.status, 'text/plain; charset=utf-8', `${decision.reason}\n`);
          }
        }
        const text = await registry.metrics();
        send(res, 200, registry.contentType, text);
      },
    },
    log,
  );
  const metrics: Server = opts.metricsTls ? createHttpsServer({ ...opts.metricsTls }, metricsRoutes) : createServer(metricsRoutes);
  const metricsScheme = opts.metricsTls ? 'https' : 'http';

  try {
    const healthPort = await listen(health, opts.healthPort, opts.bindAddress);
    const metricsPort = await listen(metrics, opts.metricsPort, opts.bindAddress);
    log.info({ bindAddress: opts.bindAddress, healthPort, metricsPort, metricsScheme, metricsAuth: Boolean(opts.authorizeMetrics) }, 'observability servers listening');
    return {
      healthPort,
      metricsPort,
      metricsScheme,
      close: async () => {
        await Promise.all([close(health), close(metrics)]);
      },
    };
  } catch (error) {
    await Promise.allSettled([close(health), close(metrics)]);
    throw error;
  }
}
