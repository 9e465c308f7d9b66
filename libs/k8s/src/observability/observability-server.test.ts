import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '../metrics/metrics';
import { startObservabilityServers } from './observability-server';
import type { CheckResult, ObservabilityServerOptions, ObservabilityServers } from './observability-server';
import { selfSignedCertificate } from './self-signed-certificate';

const log = pino({ level: 'silent' });

/** Both servers on free loopback ports, with probes that always pass. */
function startAlwaysHealthy(extra: Partial<ObservabilityServerOptions> = {}): Promise<ObservabilityServers> {
  return startObservabilityServers({
    bindAddress: '127.0.0.1',
    healthPort: 0,
    metricsPort: 0,
    registry: new Registry(),
    healthz: () => ({ ok: true, details: {} }),
    readyz: () => ({ ok: true, details: {} }),
    log,
    ...extra,
  });
}

describe('startObservabilityServers', () => {
  const registry = new Registry();
  const metrics = createControllerMetrics(registry, 'deployment');
  let health: CheckResult = { ok: true, details: { eventLoopStalledMs: 0 } };
  let ready: CheckResult = { ok: false, details: { informersSynced: false } };
  let healthThrows = false;
  let servers: ObservabilityServers;
  const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;

  before(async () => {
    servers = await startObservabilityServers({
      bindAddress: '127.0.0.1',
      healthPort: 0,
      metricsPort: 0,
      registry,
      healthz: () => {
        if (healthThrows) throw new Error('check exploded');
        return health;
      },
      readyz: () => ready,
      log,
    });
  });
  after(() => servers.close());

  it('picks two distinct free ports', () => {
    assert.ok(servers.healthPort > 0 && servers.metricsPort > 0);
    assert.notEqual(servers.healthPort, servers.metricsPort);
  });

  it('answers /healthz and /readyz with 200 or 503 and a JSON body that follows the checks', async () => {
    let res = await fetch(url(servers.healthPort, '/healthz'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { ok: true, details: { eventLoopStalledMs: 0 } });

    res = await fetch(url(servers.healthPort, '/readyz'));
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ok: false, details: { informersSynced: false } });

    ready = { ok: true, details: { informersSynced: true, nats: 'down' } };
    health = { ok: false, details: { eventLoopStalledMs: 12_000 } };
    res = await fetch(url(servers.healthPort, '/readyz?verbose'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, details: { informersSynced: true, nats: 'down' } });
    res = await fetch(url(servers.healthPort, '/healthz'));
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ok: false, details: { eventLoopStalledMs: 12_000 } });
  });

  it('turns a check that throws into a 503, not a crash', async () => {
    health = { ok: true, details: {} };
    healthThrows = true;
    try {
      const res = await fetch(url(servers.healthPort, '/healthz'));
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { ok: false, details: { error: 'check exploded' } });
    } finally {
      healthThrows = false;
    }
    assert.equal((await fetch(url(servers.healthPort, '/healthz'))).status, 200);
  });

  it('serves /metrics on the metrics port only, with the prometheus content type and live values', async () => {
    metrics.reconciled('done', 0.01);
    metrics.reconciled('done', 0.01);
    metrics.setQueueDepth(3);
    const res = await fetch(url(servers.metricsPort, '/metrics'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), registry.contentType);
    const text = await res.text();
    assert.match(text, /^ekspose_reconcile_total\{controller="deployment",result="done"\} 2$/m);
    assert.match(text, /^ekspose_queue_depth\{controller="deployment"\} 3$/m);

    assert.equal((await fetch(url(servers.healthPort, '/metrics'))).status, 404);
    assert.equal((await fetch(url(servers.metricsPort, '/healthz'))).status, 404);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    assert.equal((await fetch(url(servers.healthPort, '/'))).status, 404);
    assert.equal((await fetch(url(servers.healthPort, '/healthz/extra'))).status, 404);
    const res = await fetch(url(servers.healthPort, '/healthz'), { method: 'POST' });
    assert.equal(res.status, 405);
  });
});

describe('startObservabilityServers failures', () => {
  const listenOn = async (port: number) => {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return server;
  };
  const closeServer = (server: ReturnType<typeof createServer>) =>
    new Promise<void>((resolve) => server.close(() => resolve()));

  it('rejects when a port is taken and leaves nothing listening', async () => {
    const probe = await listenOn(0);
    const healthPort = (probe.address() as AddressInfo).port;
    await closeServer(probe);
    const blocker = await listenOn(0);
    const taken = (blocker.address() as AddressInfo).port;
    try {
      await assert.rejects(
        startObservabilityServers({
          bindAddress: '127.0.0.1',
          healthPort,
          metricsPort: taken,
          registry: new Registry(),
          healthz: () => ({ ok: true, details: {} }),
          readyz: () => ({ ok: true, details: {} }),
          log,
        }),
        /EADDRINUSE/,
      );
      // The health server that did start was closed again: its port is free.
      await closeServer(await listenOn(healthPort));
    } finally {
      await closeServer(blocker);
    }
  });

  it('close() stops both servers', async () => {
    const servers = await startAlwaysHealthy();
    assert.equal((await fetch(`http://127.0.0.1:${servers.healthPort}/healthz`)).status, 200);
    await servers.close();
    await assert.rejects(fetch(`http://127.0.0.1:${servers.healthPort}/healthz`));
    await assert.rejects(fetch(`http://127.0.0.1:${servers.metricsPort}/metrics`));
  });
});

describe('/metrics over HTTPS with an authorizer', () => {
  it('serves TLS, asks the authorizer with the Authorization header, and answers its status; 401 says Bearer', async () => {
    const { cert, key } = selfSignedCertificate({ commonName: 'test', altNames: ['localhost'] });
    const seen: Array<string | undefined> = [];
    const servers = await startAlwaysHealthy({
      metricsTls: { cert, key },
      authorizeMetrics: async (header) => {
        seen.push(header);
        return header === 'Bearer yes' ? { status: 200, user: 'u' } : header ? { status: 403, reason: 'no' } : { status: 401, reason: 'token' };
      },
    });
    const get = (authorization?: string) =>
      new Promise<{ status: number; auth?: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', servername: 'localhost', port: servers.metricsPort, path: '/metrics', ca: cert, headers: authorization ? { authorization } : {} },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, auth: res.headers['www-authenticate'] }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(servers.metricsScheme, 'https');
      assert.deepEqual(await get(), { status: 401, auth: 'Bearer' });
      assert.equal((await get('Bearer no')).status, 403);
      assert.equal((await get('Bearer yes')).status, 200);
      assert.deepEqual(seen, [undefined, 'Bearer no', 'Bearer yes']);
    } finally {
      await servers.close();
    }
  });
});
