import { readFileSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { apiserverFlags, controllerManagerFlags, etcdFlags, failingChecks } from './component-flags';
import { type CapturedRun, runCaptured } from './run-captured';
import { generateCertificates, type Certificates } from './certificates';
import { ensureGatewayApiCrds } from './gateway-api';
import { httpGet, type ProbeTls } from './http-probe';
import { renderKubeconfig } from './kubeconfig';
import type { NatsClientEnv, NatsServer, NatsUser } from './nats-server';
import { planes } from './plane-registry';
import { startProcess, type ProcessHandle } from './process-handle';
import { waitUntilReady } from './wait-ready';

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Default 60 s; kubectl is killed after it. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

export type KubectlResult = CapturedRun;

/** What startControlPlane decided: folders, binaries, ports and the components' options. */
export interface ControlPlaneSettings {
  dir: string;
  ownsDir: boolean;
  binDir: string;
  log: (line: string) => void;
  nats: boolean;
  controllerManager: boolean;
  controllers: readonly string[];
  apiserverExtraArgs: readonly string[];
  featureGates: Readonly<Record<string, boolean>>;
  controllerManagerExtraArgs: readonly string[];
  timeoutMs: number;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number; controllerManager: number };
  /** One server, or the nodes of a JetStream cluster. */
  natsNodes: NatsServer[];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/**
 * A running local control plane: etcd, kube-apiserver, kube-controller-manager
 * and nats-server as child processes of this one. Made by startControlPlane
 * (start-control-plane.ts), which chooses its folder, ports and binaries.
 */
export class ControlPlane {
  readonly dir: string;
  readonly binDir: string;
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** nats://127.0.0.1:<port>, stable across stopNats()/startNats(). */
  readonly natsUrl: string;
  readonly natsMonitorUrl: string;
  readonly etcdUrl: string;
  /** The gates kube-apiserver runs with (`--feature-gates`), defaults included. */
  readonly featureGates: Readonly<Record<string, boolean>>;
  /** Filled in once start() has made them. */
  certificates: Certificates | undefined;
  /** Milliseconds from the start until each component was ready, and `total`. */
  readonly timings: Record<string, number> = {};
  private readonly settings: ControlPlaneSettings;
  private readonly handles = new Map<string, ProcessHandle>();
  private apiserverArgs: string[] = [];
  private stopping: Promise<void> | undefined;
  private tls: ProbeTls = {};

  constructor(settings: ControlPlaneSettings) {
    this.settings = settings;
    this.dir = settings.dir;
    this.binDir = settings.binDir;
    this.kubeconfigPath = join(settings.dir, 'kubeconfig');
    this.server = `https://127.0.0.1:${settings.ports.apiserver}`;
    this.natsUrl = settings.natsNodes.map((n) => n.url).join(',');
    this.natsMonitorUrl = settings.natsNodes[0]!.monitorUrl;
    this.etcdUrl = `http://127.0.0.1:${settings.ports.etcdClient}`;
    this.featureGates = settings.featureGates;
  }

  /** Milliseconds start() took until everything was ready. */
  get startupMs(): number {
    return this.timings['total'] ?? 0;
  }

  /**
   * Environment for kubectl or a shell: KUBECONFIG, PATH with the binaries first,
   * and NATS_URL with the `admin` user (which the nats CLI reads too). A
   * controller gets its own NATS user instead: {@link natsEnv}.
   */
  env(): Record<string, string> {
    return {
      KUBECONFIG: this.kubeconfigPath,
      ...this.natsEnv('admin'),
      PATH: `${this.binDir}${delimiter}${process.env['PATH'] ?? ''}`,
    };
  }

  /** NATS_URL, and NATS_USER/NATS_PASSWORD of `user` when NATS requires users. */
  natsEnv(user: NatsUser): NatsClientEnv {
    return this.settings.natsNodes[0]!.clientEnv(user, this.natsUrl);
  }

  /** `user`/`pass` for the NATS client's connect() as `user` ({} when NATS requires none). */
  natsCredentials(user: NatsUser): { user?: string; pass?: string } {
    return this.settings.natsNodes[0]!.credentials(user);
  }

  /** The NATS servers: one, or the nodes of the cluster (`natsNodes: 3`), to kill or restart one. */
  get natsNodes(): readonly NatsServer[] {
    return this.settings.natsNodes;
  }

  /** Pids of the components running now, by name. */
  pids(): Record<string, number> {
    const pids: Record<string, number> = {};
    for (const [name, handle] of this.handles) if (handle.running) pids[name] = handle.pid;
    this.settings.natsNodes.forEach((node, i) => {
      if (node.running && node.process) pids[i === 0 ? 'nats-server' : `nats-server-${i}`] = node.process.pid;
    });
    return pids;
  }

  /** The component's process (e.g. to read its log or kill it), if it was started. */
  process(name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'nats-server'): ProcessHandle | undefined {
    return name === 'nats-server' ? this.settings.natsNodes[0]!.process : this.handles.get(name);
  }

  /** Runs kubectl against this plane as cluster-admin. Never throws for a non-zero exit. */
  kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    return runCaptured(join(this.binDir, 'kubectl'), args, {
      env: { ...process.env, ...this.env(), ...options.env },
      timeoutMs: options.timeoutMs,
      input: options.input,
    });
  }


  /** Starts every component and waits until each is ready; on failure stops what it started. */
  async start(): Promise<void> {
    const { settings } = this;
    const started = performance.now();
    const mark = (name: string): void => {
      this.timings[name] = Math.round(performance.now() - started);
    };
    planes.add(this);
    try {
      const certificates = generateCertificates(join(this.dir, 'pki')).then((certs) => {
        mark('certificates');
        return certs;
      });
      const etcd = this.launch('etcd', etcdFlags(this.dir, this.etcdUrl, settings.ports.etcdPeer));
      const nats = settings.nats ? this.startNats().then(() => mark('nats-server')) : Promise.resolve();
      // Awaited below; until then a failure must not count as unhandled.
      nats.catch(() => undefined);

      const certs = await certificates;
      this.certificates = certs;
      const pem = {
        ca: readFileSync(certs.caCert, 'utf8'),
        cert: readFileSync(certs.adminCert, 'utf8'),
        key: readFileSync(certs.adminKey, 'utf8'),
      };
      this.tls = pem;
      await writeFile(
        this.kubeconfigPath,
        renderKubeconfig({ server: this.server, caCert: pem.ca, clientCert: pem.cert, clientKey: pem.key }),
        { mode: 0o600 },
      );

      await this.waitFor(etcd, async () => {
        const res = await httpGet(`${this.etcdUrl}/health`);
        return res.status === 200 && res.body.includes('"true"') ? true : `health ${res.status} ${res.body}`;
      });
      mark('etcd');

      this.apiserverArgs = apiserverFlags({
        dir: this.dir,
        port: settings.ports.apiserver,
        etcdUrl: this.etcdUrl,
        certs,
        serviceAccountAdmission: settings.controllerManager,
        extraArgs: settings.apiserverExtraArgs,
      });
      await this.startApiServer();
      mark('kube-apiserver');

      if (settings.controllerManager) {
        const kcm = this.launch(
          'kube-controller-manager',
          controllerManagerFlags({
            dir: this.dir,
            port: settings.ports.controllerManager,
            kubeconfigPath: this.kubeconfigPath,
            controllers: settings.controllers,
            certs,
            extraArgs: settings.controllerManagerExtraArgs,
          }),
        );
        await this.waitFor(kcm, async () => {
          const res = await httpGet(`https://127.0.0.1:${settings.ports.controllerManager}/healthz`, { insecure: true });
          return res.status === 200 ? true : `healthz ${res.status}: ${res.body}`;
        });
        // The `default` ServiceAccount shows the controllers are at work, and pods can be admitted.
        if (settings.controllers.includes('serviceaccount-controller')) {
          await this.waitFor(kcm, async () => {
            const res = await httpGet(`${this.server}/api/v1/namespaces/default/serviceaccounts/default`, this.tls);
            return res.status === 200 ? true : `no default ServiceAccount yet (${res.status})`;
          });
        }
        mark('kube-controller-manager');
      }

      await nats;
      mark('total');
      const parts = Object.entries(this.timings)
        .filter(([name]) => name !== 'total')
        .map(([name, ms]) => `${name} ${seconds(ms)}`);
      settings.log(`control plane ready in ${seconds(this.startupMs)} (${parts.join(', ')}): ${this.server}, ${this.natsUrl}, ${this.dir}`);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Installs the Gateway API standard-channel CRDs (sigs.k8s.io/gateway-api, see
   * tools/gateway-api/fetch.sh) and waits until HTTPRoutes are served.
   */
  async installGatewayApi(): Promise<void> {
    const dir = await ensureGatewayApiCrds();
    const applied = await this.kubectl(['apply', '--server-side', '--field-manager=ekspose-tests', '-f', dir], { timeoutMs: 120_000 });
    if (applied.code !== 0) throw new Error(`kubectl apply of the Gateway API CRDs failed: ${applied.stderr}`);
    await this.waitForCrds(['httproutes.gateway.networking.k8s.io', 'gateways.gateway.networking.k8s.io']);
  }

  /**
   * Waits until each CRD is Established (served). Polled, not `kubectl wait`:
   * that one fails at once ("accessor error: <nil>") when it reads a CRD whose
   * status has no conditions yet, which a busy API server shows for a moment
   * after the apply.
   */
  async waitForCrds(names: readonly string[], timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const name of names) {
      for (;;) {
        const got = await this.kubectl(['get', 'crd', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
        if (got.code === 0 && got.stdout.trim() === 'True') break;
        if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms: ${got.stdout.trim() || got.stderr.trim()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /**
   * Stops kube-apiserver (SIGTERM) and waits for it to exit: a control-plane
   * outage or upgrade, as the controllers see it. etcd and its data stay.
   */
  async stopApiServer(): Promise<void> {
    await this.handles.get('kube-apiserver')?.stop();
  }

  /** Starts kube-apiserver with the same flags, port and data, and waits until /readyz answers 200. */
  async startApiServer(): Promise<void> {
    const running = this.handles.get('kube-apiserver');
    if (running?.running) return;
    const apiserver = this.launch('kube-apiserver', this.apiserverArgs);
    await this.waitFor(apiserver, async () => {
      const res = await httpGet(`${this.server}/readyz`, this.tls);
      return res.status === 200 ? true : `readyz ${res.status}: ${failingChecks(res.body)}`;
    });
  }

  /** Stops nats-server (SIGTERM) and waits for it to exit; the JetStream store stays. */
  async stopNats(): Promise<void> {
    await Promise.all(this.settings.natsNodes.map((n) => n.stop()));
  }

  /** Starts nats-server on the same port with the same store, and waits until it is healthy. No-op if it runs. */
  async startNats(): Promise<void> {
    if (this.stopping) throw new Error(`control plane in ${this.dir} is stopped; not starting nats-server`);
    // A cluster node is healthy only once a quorum runs: start them all, then wait.
    for (const node of this.settings.natsNodes) node.launch();
    await Promise.all(this.settings.natsNodes.map((n) => n.healthy()));
  }

  /**
   * Stops every component (SIGTERM, SIGKILL after a grace period), waits until
   * each has exited, and removes the folder unless it was given. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const stopOne = (name: string): Promise<unknown> => this.handles.get(name)?.stop() ?? Promise.resolve();
      // The API server first, so that it does not spend its shutdown retrying a vanished etcd.
      await Promise.all([stopOne('kube-controller-manager'), this.stopNats(), stopOne('kube-apiserver')]);
      await stopOne('etcd');
      if (this.settings.ownsDir && !process.env['EKSPOSE_KEEP_CP_DIR']) {
        await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
      }
      planes.delete(this);
    })();
    return this.stopping;
  }

  /** For process exit, where nothing can be awaited: SIGKILL everything and remove the folder. */
  stopSync(): void {
    for (const handle of this.handles.values()) handle.signal('SIGKILL');
    for (const node of this.settings.natsNodes) node.process?.signal('SIGKILL');
    if (this.settings.ownsDir && !process.env['EKSPOSE_KEEP_CP_DIR']) {
      try {
        rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // a SIGKILLed child may still be writing; the OS temp dir is cleaned eventually
      }
    }
    planes.delete(this);
  }

  private launch(name: string, args: string[]): ProcessHandle {
    if (this.stopping) throw new Error(`control plane in ${this.dir} is stopped; not starting ${name}`);
    const handle = startProcess({
      name,
      cmd: join(this.binDir, name),
      args,
      logFile: join(this.dir, `${name}.log`),
    });
    this.handles.set(name, handle);
    return handle;
  }

  private waitFor(handle: ProcessHandle, ready: () => Promise<true | string>): Promise<void> {
    return waitUntilReady(handle, ready, this.settings.timeoutMs);
  }
}
