// NATS as the chart runs it with nats.tls.enabled: three real nats-servers started from the
// nats.conf, auth.conf and --routes the chart renders (only the ports, paths and host names
// moved to this machine), with a certificate signed by a CA of the test's. A controller that
// trusts the CA (NODE_EXTRA_CA_CERTS, as the chart sets it) connects over TLS; a client without
// the CA is refused the handshake; a server with the certificate but without the route password
// cannot join the cluster, while one with it can.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { connect } from '@nats-io/transport-node';
import {
  type ProcessHandle,
  NATS_USERS,
  ensureBinaries,
  ensureOpsBinaries,
  freePorts,
  helmTemplateArgs,
  httpGet,
  natsPassword,
  natsPasswordVariable,
  runCaptured,
  startProcess,
  workspaceRoot,
} from '@ekspose/testing';
import { consistently, eventually } from './support/poll';
import { TestEnv } from './support/test-env';

const CHART = join(workspaceRoot(), 'charts', 'ekspose');

interface Node {
  name: string;
  client: number;
  monitor: number;
  route: number;
  handle?: ProcessHandle;
}

let env: TestEnv;
let dir: string;
let natsBin: string;
let conf: string;
let auth: string;
let routesArg: string;
const nodes: Node[] = [];
const extra: ProcessHandle[] = [];
const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, natsPassword()])) as Record<(typeof NATS_USERS)[number], string>;
const routePassword = natsPassword();

async function openssl(args: string[]): Promise<void> {
  const run = await runCaptured('openssl', args, { timeoutMs: 30_000 });
  assert.equal(run.code, 0, `openssl ${args.join(' ')}: ${run.stderr}`);
}

/** A CA and a certificate it signs, for the names a server on this machine answers to. */
async function makeCertificates(tls: string): Promise<void> {
  mkdirSync(tls, { recursive: true });
  const cnf = join(tls, 'openssl.cnf');
  writeFileSync(cnf, '[req]\ndistinguished_name = dn\n[dn]\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', '-config', cnf, ...ec, '-keyout', join(tls, 'ca.key'), '-out', join(tls, 'ca.crt'), '-subj', '/CN=ekspose test NATS CA', '-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', '-new', '-config', cnf, ...ec, '-keyout', join(tls, 'tls.key'), '-out', join(tls, 'tls.csr'), '-subj', '/CN=nats']);
  writeFileSync(join(tls, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:nats\n');
  await openssl(['x509', '-req', '-in', join(tls, 'tls.csr'), '-CA', join(tls, 'ca.crt'), '-CAkey', join(tls, 'ca.key'), '-CAcreateserial', '-out', join(tls, 'tls.crt'), '-days', '1', '-extfile', join(tls, 'ext.cnf')]);
}

/** The chart's nats.conf for one node here: its ports on loopback, its store and the certificates in the test's folder. */
function nodeConfig(node: Node): string {
  const store = join(dir, node.name);
  mkdirSync(store, { recursive: true });
  const text = conf
    .replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${node.client}`)
    .replace('http: 0.0.0.0:8222', `http: 127.0.0.1:${node.monitor}`)
    .replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${node.route}`)
    .replace('store_dir: /data', `store_dir: ${store}`)
    .replaceAll('/etc/nats-tls/', `${join(dir, 'tls')}/`);
  for (const moved of [`127.0.0.1:${node.client}`, `127.0.0.1:${node.route}`, store]) assert.ok(text.includes(moved), `the chart's nats.conf has ${moved}'s original`);
  const path = join(dir, `${node.name}.conf`);
  writeFileSync(path, text);
  return path;
}

/** The chart's --routes with the password Kubernetes would put in, and nats-<i>.nats-headless:6222 at node i's route port. */
function routesHere(password: string): string {
  const out = routesArg.replaceAll('$(NATS_ROUTE_PASSWORD)', password).replace(/nats-(\d)\.nats-headless:6222/g, (_m, i: string) => `localhost:${nodes[Number(i)]!.route}`);
  assert.doesNotMatch(out, /nats-headless|\$\(/);
  return out;
}

function startServer(name: string, config: string, routes: string, routePass: string): ProcessHandle {
  const passwordsEnv = Object.fromEntries(NATS_USERS.map((u) => [natsPasswordVariable(u), passwords[u]]));
  return startProcess({
    name,
    cmd: natsBin,
    args: ['-c', config, `--routes=${routes}`],
    env: { PATH: process.env['PATH'] ?? '', POD_NAME: name, NATS_ROUTE_PASSWORD: routePass, ...passwordsEnv },
    logFile: join(dir, `${name}.log`),
  });
}

/** The names of the servers a node has routes to (route pooling opens several connections to each). */
async function routedTo(node: Node): Promise<string[]> {
  const res = await httpGet(`http://127.0.0.1:${node.monitor}/routez`);
  const body = JSON.parse(res.body) as { routes?: Array<{ remote_name?: string }> };
  return [...new Set((body.routes ?? []).map((r) => r.remote_name ?? ''))].sort();
}

const servers = () => nodes.map((n) => `tls://localhost:${n.client}`);

describe('NATS with TLS on, as the chart renders it', { timeout: 300_000 }, () => {
  before(async () => {
    const ops = await ensureOpsBinaries();
    natsBin = join(await ensureBinaries(), 'nats-server');
    dir = mkdtempSync(join(tmpdir(), 'ekspose-nats-tls-'));
    const rendered = await runCaptured(
      join(ops, 'helm'),
      helmTemplateArgs(['template', 'ekspose', CHART, '-n', 'ekspose', '--set', 'nats.tls.enabled=true', '--set', 'nats.tls.existingSecret=nats-tls', '--set', 'nats.credentials.existingSecret=ekspose-nats-credentials']),
      { timeoutMs: 60_000, env: { ...process.env, HELM_CACHE_HOME: join(dir, 'helm'), HELM_CONFIG_HOME: join(dir, 'helm'), HELM_DATA_HOME: join(dir, 'helm') } },
    );
    assert.equal(rendered.code, 0, rendered.stderr);
    type Obj = { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { template: { spec: { containers: Array<{ args?: string[]; env?: Array<{ name: string; value?: string }> }> } } } };
    const objs = (loadAllYaml(rendered.stdout) as Obj[]).filter(Boolean);
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nats-config');
    conf = cm?.data?.['nats.conf'] ?? '';
    auth = cm?.data?.['auth.conf'] ?? '';
    assert.match(conf, /^tls \{/m, 'client TLS in the rendered nats.conf');
    routesArg = (objs.find((o) => o.kind === 'StatefulSet')?.spec?.template.spec.containers[0]?.args ?? []).find((a) => a.startsWith('--routes='))?.slice('--routes='.length) ?? '';
    assert.match(routesArg, /nats:\/\/route:\$\(NATS_ROUTE_PASSWORD\)@nats-0\.nats-headless:6222/);
    // What the chart gives the controllers: tls:// and the CA through NODE_EXTRA_CA_CERTS.
    const settings = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ekspose-settings');
    assert.equal(settings?.data?.['NATS_URL'], 'tls://nats:4222');
    const controllerEnv = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'deployment-controller')?.spec?.template.spec.containers[0]?.env ?? [];
    assert.equal(controllerEnv.find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value, '/etc/nats-ca/ca.crt');

    await makeCertificates(join(dir, 'tls'));
    writeFileSync(join(dir, 'auth.conf'), auth);
    for (let i = 0; i < 3; i++) {
      const [client = 0, monitor = 0, route = 0] = await freePorts(3);
      nodes.push({ name: `nats-${i}`, client, monitor, route });
    }
    for (const node of nodes) node.handle = startServer(node.name, nodeConfig(node), routesHere(routePassword), routePassword);
    await eventually(async () => (await Promise.all(nodes.map(routedTo))).every((names, i) => names.length === 2 && !names.includes(`nats-${i}`)), {
      what: 'the three servers routed to each other over mutual TLS with the route password',
      timeoutMs: 60_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${nodes.map((n) => n.handle?.logTail(20)).join('\n')}`);
    });
    await eventually(async () => (await httpGet(`http://127.0.0.1:${nodes[0]!.monitor}/healthz`)).status === 200, { what: 'JetStream ready', timeoutMs: 60_000 });
    env = await TestEnv.start({ controllerManager: false });
  });

  after(async () => {
    await env?.stop();
    await Promise.all([...extra, ...nodes.flatMap((n) => (n.handle ? [n.handle] : []))].map((h) => h.stop()));
  });

  it('a controller that trusts the CA (NODE_EXTRA_CA_CERTS) connects over tls://', async () => {
    const proc = await env.startController('deployment-controller', {
      NATS_URL: servers().join(','),
      NATS_USER: 'deployment-controller',
      NATS_PASSWORD: passwords['deployment-controller'],
      NATS_STREAM_REPLICAS: '3',
      NODE_EXTRA_CA_CERTS: join(dir, 'tls', 'ca.crt'),
    });
    await eventually(async () => (await env.scrape(proc)).samples.some((s) => s.name === 'ekspose_nats_connected' && s.value === 1), {
      what: 'the deployment-controller connected to NATS over TLS',
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.handle.logTail(30)}`);
    });
    assert.match(proc.handle.readLog(), /connected to NATS/);
  });

  it('a client without the CA is refused the handshake; the same client with it connects', async () => {
    const without = await connect({ servers: servers()[0], user: 'admin', pass: passwords.admin, timeout: 5000, reconnect: false }).then(
      async (nc) => {
        await nc.close();
        return 'connected';
      },
      (err: Error) => err.message,
    );
    assert.notEqual(without, 'connected', 'a client that does not trust the CA connected');
    assert.match(without, /certificate|self.signed|verify/i);
    const nc = await connect({ servers: servers()[0], user: 'admin', pass: passwords.admin, timeout: 5000, reconnect: false, tls: { caFile: join(dir, 'tls', 'ca.crt') } });
    await nc.close();
  });

  it('a server with the certificate but without the route password cannot join; one with it can', async () => {
    const [client = 0, monitor = 0, route = 0] = await freePorts(3);
    const rogue: Node = { name: 'rogue', client, monitor, route };
    rogue.handle = startServer('rogue', nodeConfig(rogue), routesHere('not-the-password'), 'not-the-password');
    extra.push(rogue.handle);
    await rogue.handle.waitForLog('Authorization Violation', { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${rogue.handle?.logTail(30)}`);
    });
    await consistently(async () => (await Promise.all(nodes.map(routedTo))).every((names) => !names.includes('rogue')), 5_000, 'no server routes to the rogue');
    const [c2 = 0, m2 = 0, r2 = 0] = await freePorts(3);
    const member: Node = { name: 'nats-3', client: c2, monitor: m2, route: r2 };
    member.handle = startServer('nats-3', nodeConfig(member), routesHere(routePassword), routePassword);
    extra.push(member.handle);
    await eventually(async () => (await routedTo(nodes[0]!)).includes('nats-3'), { what: 'a server with the route password joined', timeoutMs: 30_000 });
  });
});
