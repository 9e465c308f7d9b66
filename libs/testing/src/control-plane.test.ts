import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { workspaceRoot } from './binaries';
import type { ControlPlane } from './control-plane';
import { startControlPlane } from './start-control-plane';
import { httpGet } from './http-probe';
import { isPidAlive } from './process-handle';

const expectedVersion = /^K8S_VERSION=(\S+)$/m.exec(
  readFileSync(join(workspaceRoot(), 'tools', 'controlplane', 'versions.env'), 'utf8'),
)?.[1];

/** Polls `check` every 200 ms until it returns true; fails with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not true after ${timeoutMs}ms`);
    await sleep(200);
  }
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose command line mentions `text` (our children carry their folder in their flags). */
function processesMentioning(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-fa', text], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('local control plane', () => {
  let plane: ControlPlane;
  const lines: string[] = [];

  before(async () => {
    plane = await startControlPlane({ log: (line) => lines.push(line) });
  });

  after(async () => {
    await plane?.stop();
  });

  it('logs how long the start took', () => {
    assert.ok(plane.startupMs > 0);
    assert.ok(
      lines.some((line) => /control plane ready in \d+\.\ds/.test(line)),
      lines.join('\n'),
    );
  });

  it('serves the pinned Kubernetes version and writes a working admin kubeconfig', async () => {
    assert.ok(expectedVersion, 'versions.env names K8S_VERSION');
    const result = await plane.kubectl(['version', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const version = JSON.parse(result.stdout) as { serverVersion: { gitVersion: string } };
    assert.equal(version.serverVersion.gitVersion, expectedVersion);
    assert.ok(existsSync(plane.kubeconfigPath));
    assert.equal(plane.env()['KUBECONFIG'], plane.kubeconfigPath);
    assert.ok(plane.env()['PATH']?.startsWith(plane.binDir));
  });

  it('runs kube-apiserver with ShardedListAndWatch on unless told otherwise, as the server itself reports', async () => {
    assert.deepEqual(plane.featureGates, { ShardedListAndWatch: true });
    const metrics = await plane.kubectl(['get', '--raw', '/metrics']);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.match(metrics.stdout, /^kubernetes_feature_enabled\{name="ShardedListAndWatch",stage="[A-Z]+"\} 1$/m);
  });

  it('enforces RBAC on service-account tokens from the TokenRequest API', async () => {
    assert.equal((await plane.kubectl(['create', 'serviceaccount', 'rbac-probe', '-n', 'default'])).code, 0);
    const token = await plane.kubectl(['create', 'token', 'rbac-probe', '-n', 'default']);
    assert.equal(token.code, 0, token.stderr);
    assert.ok(plane.certificates);
    const bearer = { ca: readFileSync(plane.certificates.caCert, 'utf8'), token: token.stdout.trim() };

    const denied = await httpGet(`${plane.server}/api/v1/secrets`, bearer);
    // 403 naming the account: the token authenticated, and authorization said no.
    assert.equal(denied.status, 403, denied.body);
    assert.match(denied.body, /system:serviceaccount:default:rbac-probe/);

    for (const args of [
      ['create', 'clusterrole', 'rbac-probe-secrets', '--verb=list', '--resource=secrets'],
      ['create', 'clusterrolebinding', 'rbac-probe-secrets', '--clusterrole=rbac-probe-secrets', '--serviceaccount=default:rbac-probe'],
    ]) {
      const result = await plane.kubectl(args);
      assert.equal(result.code, 0, result.stderr);
    }
    // Granted by a binding, so the 403 above was RBAC and not an authorizer that denies everything.
    await eventually('the bound account may list secrets', async () => {
      return (await httpGet(`${plane.server}/api/v1/secrets`, bearer)).status === 200;
    });
  });

  it('garbage-collects a dependent whose owner is deleted', async () => {
    assert.equal((await plane.kubectl(['create', 'configmap', 'gc-owner', '-n', 'default'])).code, 0);
    const uid = await plane.kubectl(['get', 'configmap', 'gc-owner', '-n', 'default', '-o', 'jsonpath={.metadata.uid}']);
    assert.match(uid.stdout, /^[0-9a-f-]{36}$/);
    const dependent = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'gc-dependent',
        namespace: 'default',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gc-owner', uid: uid.stdout }],
      },
    };
    const created = await plane.kubectl(['create', '-f', '-'], { input: JSON.stringify(dependent) });
    assert.equal(created.code, 0, created.stderr);

    assert.equal((await plane.kubectl(['delete', 'configmap', 'gc-owner', '-n', 'default'])).code, 0);
    await eventually('the dependent is deleted', async () => {
      const result = await plane.kubectl(['get', 'configmap', 'gc-dependent', '-n', 'default']);
      return result.code !== 0 && result.stderr.includes('NotFound');
    });
  });

  it('finishes namespace deletion and admits pods with the default ServiceAccount', async () => {
    assert.equal((await plane.kubectl(['create', 'namespace', 'doomed'])).code, 0);
    assert.equal((await plane.kubectl(['create', 'configmap', 'inside', '-n', 'doomed'])).code, 0);
    assert.equal((await plane.kubectl(['delete', 'namespace', 'doomed', '--wait=false'])).code, 0);
    await eventually('the namespace is gone', async () => {
      const result = await plane.kubectl(['get', 'namespace', 'doomed']);
      return result.code !== 0 && result.stderr.includes('NotFound');
    });

    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'admitted', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    };
    const created = await plane.kubectl(['create', '-f', '-', '-o', 'jsonpath={.spec.serviceAccountName}'], {
      input: JSON.stringify(pod),
    });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'default');
  });

  it('runs NATS JetStream that survives stopNats()/startNats() on the same port with its store', async () => {
    const port = Number(new URL(plane.natsUrl).port);
    assert.equal(await tcpAccepts(port), true);

    const nc = await connect({ servers: plane.natsUrl, ...plane.natsCredentials('admin') });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'PROBE', subjects: ['probe.>'] });
    await jetstream(nc).publish('probe.one', 'kept');
    await nc.close();

    const before = plane.pids()['nats-server'];
    assert.ok(before);
    await plane.stopNats();
    assert.equal(plane.pids()['nats-server'], undefined);
    assert.equal(await tcpAccepts(port), false);
    assert.equal(isPidAlive(before), false);

    await plane.startNats();
    assert.notEqual(plane.pids()['nats-server'], before);
    assert.equal(await tcpAccepts(port), true);
    const again = await connect({ servers: plane.natsUrl, ...plane.natsCredentials('admin') });
    try {
      const info = await (await jetstreamManager(again)).streams.info('PROBE');
      assert.equal(info.state.messages, 1);
    } finally {
      await again.close();
    }
  });

  it('stop() ends every child process and removes its folder, and may be called again', async () => {
    const pids = Object.values(plane.pids());
    assert.equal(pids.length, 4, JSON.stringify(plane.pids()));
    assert.ok(pids.every(isPidAlive));

    await plane.stop();
    assert.deepEqual(pids.filter(isPidAlive), []);
    assert.equal(existsSync(plane.dir), false);
    assert.deepEqual(processesMentioning(plane.dir), []);
    await plane.stop();
  });
});

describe('local control plane start failure', () => {
  it('refuses --feature-gates among the extra flags: gates go through featureGates', async () => {
    await assert.rejects(
      startControlPlane({ nats: false, controllerManager: false, apiserverExtraArgs: ['--feature-gates=ShardedListAndWatch=false'], log: () => undefined }),
      /--feature-gates=ShardedListAndWatch=false in apiserverExtraArgs: give the gates as featureGates/,
    );
  });

  it('rejects with the failing component and its log tail, and leaves nothing behind', async () => {
    const failure = await startControlPlane({
      nats: false,
      controllerManager: false,
      apiserverExtraArgs: ['--no-such-flag'],
      log: () => undefined,
    }).then(
      () => assert.fail('a bad API server flag must fail the start'),
      (error: Error) => error,
    );
    assert.match(failure.message, /kube-apiserver exited/);
    assert.match(failure.message, /no-such-flag/);
    const dir = /(\S*ekspose-cp-[^/\s]+)/.exec(failure.message)?.[1];
    assert.ok(dir, failure.message);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(processesMentioning(dir), []);
  });
});
