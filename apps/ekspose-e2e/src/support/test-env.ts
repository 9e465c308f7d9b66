// One control plane (etcd, kube-apiserver, kube-controller-manager with the
// garbage collector, nats-server) per test file, and the three controllers
// run from their built bundles as separate processes, as in a cluster.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1Ingress, V1Lease, V1Service, CoreV1Event } from '@kubernetes/client-node';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { EventBus } from '@ekspose/events';
import { type KubeClients, createKubeClients, mergePatchOptions, statusCodeOf } from '@ekspose/k8s';
import {
  type ControlPlane,
  type ControlPlaneOptions,
  type ProcessHandle,
  type MetricsPage,
  freePorts,
  parsePrometheusText,
  startControlPlane,
  startProcess,
  workspaceRoot,
} from '@ekspose/testing';
import { eventually } from './poll';

export const APPS = ['deployment-controller', 'service-controller', 'ingress-controller'] as const;
export type AppName = (typeof APPS)[number];
export const CONTROLLER_NAMESPACE = 'ekspose-system';
export const DOMAIN = 'e2e.test';

export interface ControllerProcess {
  app: AppName;
  identity: string;
  handle: ProcessHandle;
  healthPort: number;
  metricsPort: number;
}

let replicaSeq = 0;

export class TestEnv {
  readonly controllers: ControllerProcess[] = [];

  private constructor(
    readonly plane: ControlPlane,
    readonly clients: KubeClients,
  ) {}

  static async start(
    opts: {
      controllerManager?: boolean;
      natsNodes?: 1 | 3;
      natsLameDuck?: ControlPlaneOptions['natsLameDuck'];
      controllers?: readonly string[];
      apiserverExtraArgs?: readonly string[];
      /** Over the harness defaults (ShardedListAndWatch on); `{ ShardedListAndWatch: false }` for a plane without it. */
      featureGates?: ControlPlaneOptions['featureGates'];
    } = {},
  ): Promise<TestEnv> {
    for (const app of APPS) {
      const bundle = join(workspaceRoot(), 'dist', 'apps', app, 'main.js');
      if (!existsSync(bundle)) {
        throw new Error(`${bundle} is missing: build the apps first (npx nx run-many -t build)`);
      }
    }
    const plane = await startControlPlane({
      controllerManager: opts.controllerManager ?? true,
      natsNodes: opts.natsNodes ?? 1,
      natsLameDuck: opts.natsLameDuck,
      controllers: opts.controllers,
      apiserverExtraArgs: opts.apiserverExtraArgs,
      featureGates: opts.featureGates,
      log: (line) => process.stderr.write(`[plane] ${line}\n`),
    });
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const env = new TestEnv(plane, createKubeClients(kc));
    await env.createNamespace(CONTROLLER_NAMESPACE);
    return env;
  }

  /** Starts one replica of an app and waits until it is ready (caches synced). */
  async startController(app: AppName, extraEnv: Record<string, string> = {}): Promise<ControllerProcess> {
    const [healthPort, metricsPort] = await freePorts(2);
    const identity = `${app}-${++replicaSeq}`;
    const handle = startProcess({
      name: identity,
      cmd: process.execPath,
      args: [join(workspaceRoot(), 'dist', 'apps', app, 'main.js')],
      logFile: join(this.plane.dir, `${identity}.log`),
      env: {
        PATH: process.env.PATH ?? '',
        KUBECONFIG: this.plane.kubeconfigPath,
        // Its own NATS user, as in the manifests: a permission the app lacks fails the suite.
        ...this.plane.natsEnv(app),
        POD_NAMESPACE: CONTROLLER_NAMESPACE,
        POD_NAME: identity,
        EKSPOSE_DOMAIN: DOMAIN,
        EKSPOSE_BIND_ADDRESS: '127.0.0.1',
        EKSPOSE_HEALTH_PORT: String(healthPort),
        EKSPOSE_METRICS_PORT: String(metricsPort),
        // Plain HTTP to scrape without a token; manifests.test.ts covers the HTTPS default.
        EKSPOSE_METRICS_SECURE: 'false',
        LOG_LEVEL: 'debug',
        ...extraEnv,
      },
    });
    const proc: ControllerProcess = { app, identity, handle, healthPort: healthPort!, metricsPort: metricsPort! };
    this.controllers.push(proc);
    await eventually(async () => (await this.probe(proc, '/readyz')).status === 200, {
      timeoutMs: 30_000,
      what: `${identity} ready`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${identity} log ---\n${handle.logTail(40)}`);
    });
    return proc;
  }

  /** One replica of each app, each leading its own Lease. */
  async startAll(extraEnv: Record<string, string> = {}): Promise<ControllerProcess[]> {
    const procs = await Promise.all(APPS.map((app) => this.startController(app, extraEnv)));
    await Promise.all(procs.map((p) => p.handle.waitForLog('started leading', { timeoutMs: 30_000 })));
    return procs;
  }

  async probe(proc: ControllerProcess, path: string): Promise<{ status: number; body: string }> {
    const port = path === '/metrics' ? proc.metricsPort : proc.healthPort;
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: await res.text() };
    } catch {
      return { status: 0, body: '' };
    }
  }

  /**
   * A bus of our own on the plane's NATS, signed in as `admin` (as an operator's
   * nats CLI would be), connected, for `fn`: to read what the controllers
   * published, or to publish what they would not.
   */
  async withAdminBus<T>(name: string, fn: (bus: EventBus) => Promise<T>): Promise<T> {
    const bus = new EventBus({ servers: this.plane.natsUrl, ...this.plane.natsCredentials('admin'), name, log: pino({ level: 'silent' }), registry: new Registry() });
    bus.start();
    try {
      await eventually(() => bus.connected, { timeoutMs: 15_000, what: `${name} connected to NATS` });
      return await fn(bus);
    } finally {
      await bus.close();
    }
  }

  async stopControllers(): Promise<void> {
    await Promise.all(this.controllers.map((c) => c.handle.stop(12_000)));
  }

  async stop(): Promise<void> {
    await this.stopControllers();
    await this.plane.stop();
  }

  /** Every controller log line, for diagnosing a failed assertion. */
  logs(): string {
    return this.controllers.map((c) => `--- ${c.identity} ---\n${c.handle.logTail(60)}`).join('\n');
  }

  async createNamespace(name: string): Promise<void> {
    try {
      await this.clients.core.createNamespace({ body: { metadata: { name } } });
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw err;
    }
  }

  async createDeployment(
    namespace: string,
    name: string,
    opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): Promise<V1Deployment> {
    return this.clients.apps.createNamespacedDeployment({ namespace, body: deploymentManifest(namespace, name, opts) });
  }

  async patchDeploymentLabels(namespace: string, name: string, labels: Record<string, string | null>): Promise<void> {
    await this.clients.apps.patchNamespacedDeployment({ namespace, name, body: { metadata: { labels } } }, mergePatchOptions());
  }

  async deleteDeployment(namespace: string, name: string, propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'): Promise<void> {
    await this.clients.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy });
  }

  getService(namespace: string, name: string): Promise<V1Service | undefined> {
    return orUndefined(this.clients.core.readNamespacedService({ namespace, name }));
  }

  getIngress(namespace: string, name: string): Promise<V1Ingress | undefined> {
    return orUndefined(this.clients.networking.readNamespacedIngress({ namespace, name }));
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    return orUndefined(this.clients.apps.readNamespacedDeployment({ namespace, name }));
  }

  async deleteService(namespace: string, name: string): Promise<void> {
    await this.clients.core.deleteNamespacedService({ namespace, name });
  }

  async deleteIngress(namespace: string, name: string): Promise<void> {
    await this.clients.networking.deleteNamespacedIngress({ namespace, name });
  }

  /** Events about the Deployment `name` in `namespace`, read through core/v1 (as `kubectl describe` does). */
  async eventsFor(namespace: string, name: string): Promise<CoreV1Event[]> {
    const list = await this.clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return list.items;
  }

  async waitForService(namespace: string, name: string, check: (s: V1Service) => boolean = () => true, timeoutMs = 30_000): Promise<V1Service> {
    return eventually(async () => {
      const s = await this.getService(namespace, name);
      return s && check(s) ? s : undefined;
    }, { timeoutMs, what: `Service ${namespace}/${name}` }).catch((err: Error) => this.withLogs(err));
  }

  async waitForIngress(namespace: string, name: string, check: (i: V1Ingress) => boolean = () => true, timeoutMs = 30_000): Promise<V1Ingress> {
    return eventually(async () => {
      const i = await this.getIngress(namespace, name);
      return i && check(i) ? i : undefined;
    }, { timeoutMs, what: `Ingress ${namespace}/${name}` }).catch((err: Error) => this.withLogs(err));
  }

  async waitForGone(what: 'service' | 'ingress' | 'deployment', namespace: string, name: string, timeoutMs = 30_000): Promise<void> {
    const get = { service: this.getService, ingress: this.getIngress, deployment: this.getDeployment }[what].bind(this);
    await eventually(async () => (await get(namespace, name)) === undefined, { timeoutMs, what: `${what} ${namespace}/${name} gone` }).catch(
      (err: Error) => this.withLogs(err),
    );
  }

  async waitForEvent(namespace: string, name: string, reason: string, timeoutMs = 30_000): Promise<CoreV1Event> {
    return eventually(async () => (await this.eventsFor(namespace, name)).find((e) => e.reason === reason), {
      timeoutMs,
      what: `Event ${reason} on ${namespace}/${name}`,
    }).catch((err: Error) => this.withLogs(err));
  }

  private withLogs(err: Error): never {
    throw new Error(`${err.message}\n${this.logs()}`);
  }

  // --- Leader election and observability (leader-election.test.ts, observability.test.ts) ---

  /** The replica's /metrics, parsed; throws when it does not answer 200. */
  async scrape(proc: ControllerProcess): Promise<MetricsPage> {
    const { status, body } = await this.probe(proc, '/metrics');
    if (status !== 200) throw new Error(`${proc.identity} /metrics answered ${status}`);
    return parsePrometheusText(body);
  }

  /** /healthz or /readyz with its JSON body; status 0 when nothing answers. */
  async probeJson(proc: ControllerProcess, path: '/healthz' | '/readyz'): Promise<{ status: number; body: ProbeBody }> {
    const { status, body } = await this.probe(proc, path);
    let parsed: ProbeBody = { ok: false, details: {} };
    try {
      if (body) parsed = JSON.parse(body) as ProbeBody;
    } catch {
      // not JSON: leave the empty body, the status tells the story
    }
    return { status, body: parsed };
  }

  /** The shard ranges a sharded replica serves now, from its /readyz (sorted; empty when it does not answer). */
  async servingRanges(proc: ControllerProcess): Promise<number[]> {
    const ready = await this.probeJson(proc, '/readyz');
    return ((ready.body.details.shards as { serving?: number[] } | undefined)?.serving ?? []).slice().sort((a, b) => a - b);
  }

  /** The Lease `ekspose-<app>` the replicas of `app` elect on, or undefined before the first replica made it. */
  readLease(app: AppName): Promise<V1Lease | undefined> {
    return orUndefined(this.clients.coordination.readNamespacedLease({ namespace: CONTROLLER_NAMESPACE, name: leaseName(app) }));
  }

  /**
   * Records every version of the app's Lease as a watch delivers it, with the
   * local time it arrived: polling could miss a short-lived version (a released
   * lease that a standby takes within milliseconds).
   */
  async watchLease(app: AppName): Promise<LeaseRecorder> {
    const changes: LeaseChange[] = [];
    const watch = new Watch(this.clients.config);
    let failed: unknown;
    const controller = await watch.watch(
      `/apis/coordination.k8s.io/v1/namespaces/${CONTROLLER_NAMESPACE}/leases`,
      { fieldSelector: `metadata.name=${leaseName(app)}` },
      (type, obj: V1Lease) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        changes.push({
          at: Date.now(),
          holder: obj.spec?.holderIdentity ?? '',
          renewTime: obj.spec?.renewTime ? new Date(obj.spec.renewTime as unknown as string) : undefined,
          resourceVersion: obj.metadata?.resourceVersion ?? '',
        });
      },
      (err: unknown) => {
        if (err) failed = err;
      },
    );
    return {
      changes,
      get error() {
        return failed;
      },
      stop: () => controller.abort(),
    };
  }
}

export type ProbeBody = { ok: boolean; details: Record<string, unknown> };

export interface LeaseChange {
  /** Date.now() when the watch delivered it. */
  at: number;
  /** '' when released. */
  holder: string;
  renewTime?: Date;
  resourceVersion: string;
}

export interface LeaseRecorder {
  readonly changes: LeaseChange[];
  readonly error: unknown;
  stop(): void;
}

/** The replica's JSON log lines written after `from` (a length of readLog()). */
export function logSince(proc: ControllerProcess, from: number): Array<Record<string, unknown> & { msg?: string }> {
  return proc.handle
    .readLog()
    .slice(from)
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown> & { msg?: string }];
      } catch {
        return [];
      }
    });
}

export function leaseName(app: AppName): string {
  return `ekspose-${app}`;
}

/** The label on the member Leases of a sharded app (EKSPOSE_SHARDS > 1), and their names: the controllers' own. */
export { MEMBER_LABEL as SHARD_MEMBER_LABEL, memberLeaseName } from '@ekspose/k8s';

export function deploymentManifest(
  namespace: string,
  name: string,
  opts: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: opts.labels, annotations: opts.annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      },
    },
  };
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (statusCodeOf(err) === 404) return undefined;
    throw err;
  }
}

/**
 * How many times an Event happened: ekspose writes events.k8s.io/v1 Events, so
 * a repeat is `series.count`; the core/v1 `count` is what older recorders set.
 */
export function occurrences(event: { series?: { count?: number }; count?: number }): number {
  return event.series?.count ?? (event.count || 1);
}
