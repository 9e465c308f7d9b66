// startControlPlane: the choices made before a plane starts (its folder, free
// ports, the binaries, NATS as one server or a cluster, the feature gates), the
// start itself (control-plane.ts), and a new try on other ports when another
// process took one between choosing and binding it.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBinaries } from './binaries';
import { ControlPlane } from './control-plane';
import { featureGatesArgs, planeFeatureGates } from './feature-gates';
import { freePorts } from './http-probe';
import { NatsServer, type NatsServerOptions } from './nats-server';
import { installExitHook, installSignalHook, OWNER_FILE, pruneAbandonedPlanes } from './plane-registry';

/**
 * kube-controller-manager controllers run by default: the ones whose absence a
 * controller author would notice (ownerReference cascades, namespace deletion,
 * the `default` ServiceAccount and its token). No scheduler or kubelet exists,
 * so workload controllers (deployment, replicaset) would only make pending pods.
 */
export const DEFAULT_CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
] as const;

export interface ControlPlaneOptions {
  /** Start nats-server with JetStream. Default true. When false, `natsUrl` still names a reserved port and `startNats()` starts it there. */
  nats?: boolean;
  /**
   * NATS requires the users of manifests/nats/auth.conf (each controller its own,
   * plus admin), with random passwords: see {@link ControlPlane.natsEnv}. Default true.
   */
  natsAuth?: boolean;
  /** NATS servers: 1, or 3 as a JetStream cluster on loopback (routes, one quorum). Default 1. */
  natsNodes?: 1 | 3;
  /** The NATS servers' lame-duck timing (NatsServerOptions.lameDuck). Default nats-server's. */
  natsLameDuck?: NatsServerOptions['lameDuck'];
  /** Start kube-controller-manager. Default true. Without it nothing garbage-collects and ServiceAccount admission is turned off. */
  controllerManager?: boolean;
  /** Controllers for kube-controller-manager. Default {@link DEFAULT_CONTROLLERS}. */
  controllers?: readonly string[];
  /** Working folder. Default: a new `ekspose-cp-*` folder under the OS temp dir, removed by stop(); a given folder is kept. */
  dir?: string;
  /** Progress and timing lines. Default: process.stderr. */
  log?: (line: string) => void;
  /** Extra kube-apiserver flags; not `--feature-gates` (see featureGates). */
  apiserverExtraArgs?: readonly string[];
  /**
   * kube-apiserver feature gates, over the harness defaults (feature-gates.ts:
   * ShardedListAndWatch on): the gates named here win, the other defaults stay,
   * so `{ ShardedListAndWatch: false }` starts a plane without it.
   */
  featureGates?: Readonly<Record<string, boolean>>;
  controllerManagerExtraArgs?: readonly string[];
  /** Bound for each component to become ready. Default 60 s. */
  timeoutMs?: number;
  /** Stop every plane on SIGINT/SIGTERM, then re-raise the signal. Default true. */
  handleSignals?: boolean;
  /** Use binaries from here instead of {@link ensureBinaries}. */
  binDir?: string;
}

/** One NATS server, or `nodes` of a JetStream cluster sharing one set of passwords. */
async function createNatsNodes(o: { bin: string; dir: string; timeoutMs: number; auth: boolean; nodes: number; lameDuck?: NatsServerOptions['lameDuck'] }): Promise<NatsServer[]> {
  if (o.nodes === 1) return [await NatsServer.create({ bin: o.bin, dir: o.dir, timeoutMs: o.timeoutMs, auth: o.auth, lameDuck: o.lameDuck })];
  const routePorts = await freePorts(o.nodes);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`);
  const node = (i: number, auth: NatsServerOptions['auth']) =>
    NatsServer.create({
      bin: o.bin,
      dir: o.dir,
      timeoutMs: o.timeoutMs,
      auth,
      lameDuck: o.lameDuck,
      name: `nats-${i}`,
      cluster: { name: 'ekspose-local', port: routePorts[i]!, routes: routes.filter((_, j) => j !== i) },
    });
  // The first node makes the passwords; the others take the same.
  const first = await node(0, o.auth);
  const others = await Promise.all(routePorts.slice(1).map((_, k) => node(k + 1, first.passwords ?? false)));
  return [first, ...others];
}

/** Starts on a port race (see startControlPlane) before giving up. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Starts a local control plane (like controller-runtime's envtest, plus the
 * garbage collector and NATS) and resolves when every component is ready.
 * Always `stop()` it; a process that exits or is interrupted stops it too.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // A second --feature-gates would merge with or replace the first, depending on the flag library: say it once.
  const gatesFlag = options.apiserverExtraArgs?.find((arg) => /^--feature-gates(=|$)/.test(arg));
  if (gatesFlag !== undefined) throw new Error(`${gatesFlag} in apiserverExtraArgs: give the gates as featureGates (they are merged with the defaults)`);
  const featureGates = planeFeatureGates(options.featureGates);
  const log = options.log ?? ((line: string) => process.stderr.write(`[control-plane] ${line}\n`));
  const binDir = options.binDir ?? (await ensureBinaries({ log }));
  // Ports are chosen free, then bound by the components a moment later: another process (a parallel
  // test file) can take one in between. That start is thrown away and made again on other ports.
  for (let attempt = 1; ; attempt++) {
    let dir: string;
    if (options.dir) {
      dir = resolve(options.dir);
      await mkdir(dir, { recursive: true });
    } else {
      await pruneAbandonedPlanes();
      dir = await mkdtemp(join(tmpdir(), 'ekspose-cp-'));
      await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`);
    }
    const [etcdClient, etcdPeer, apiserver, controllerManager] = await freePorts(4);
    const natsNodes = await createNatsNodes({
      bin: join(binDir, 'nats-server'),
      dir,
      timeoutMs: options.timeoutMs ?? 60_000,
      auth: options.natsAuth ?? true,
      nodes: options.natsNodes ?? 1,
      lameDuck: options.natsLameDuck,
    });
    const plane = new ControlPlane({
      dir,
      ownsDir: !options.dir,
      binDir,
      log,
      nats: options.nats ?? true,
      controllerManager: options.controllerManager ?? true,
      controllers: options.controllers ?? DEFAULT_CONTROLLERS,
      apiserverExtraArgs: [...featureGatesArgs(featureGates), ...(options.apiserverExtraArgs ?? [])],
      featureGates,
      controllerManagerExtraArgs: options.controllerManagerExtraArgs ?? [],
      timeoutMs: options.timeoutMs ?? 60_000,
      ports: { etcdClient, etcdPeer, apiserver, controllerManager },
      natsNodes,
    });
    installExitHook();
    if (options.handleSignals ?? true) installSignalHook();
    try {
      await plane.start();
      return plane;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Anything else is left as it failed, its logs in place for the error to point at.
      if (attempt >= PORT_RACE_ATTEMPTS || !/address already in use/.test(message)) throw err;
      await plane.stop().catch(() => undefined);
      log(`a port was taken between choosing and binding it (attempt ${attempt} of ${PORT_RACE_ATTEMPTS}); starting again on other ports`);
    }
  }
}
