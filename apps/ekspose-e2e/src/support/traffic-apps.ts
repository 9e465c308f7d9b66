// Deployments whose pods answer real HTTP, for the traffic suite: kwok runs the
// pods on the fake node, and a tiny server on each pod's IP plays its
// container. Shared by the Ingress (skipper) and Gateway (Traefik) files; the
// proxy is whichever one routes the host.
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { type Backend, type Outage, type ProxyAnswer, FAKE_NODE_NAME, startBackend } from '@ekspose/testing';
import { eventually } from './poll';
import { type TestEnv, deploymentManifest } from './test-env';

/** A bound for traffic to come back after a repair: ekspose's repair, the endpointslice controller, and the proxy's reload. */
export const RECOVERY_BOUND_MS = 30_000;

export interface App {
  name: string;
  host: string;
  pods: V1Pod[];
}

export interface Routing {
  get(host: string, path?: string, timeoutMs?: number): Promise<ProxyAnswer>;
}

export const describeOutage = (o: Outage) =>
  o.failures === 0 ? 'no request failed' : `requests failed for ${o.failedMs} ms (${o.failures} failures, statuses ${[...o.statuses].join(', ')})`;

export const podNames = (app: App) => new Set(app.pods.map((p) => p.metadata!.name!));

export class TrafficApps {
  readonly backends: Backend[] = [];

  constructor(
    private readonly env: TestEnv,
    private readonly proxy: Routing,
    private readonly namespace: string,
    /** The proxy's recent log, for a failure's message. */
    private readonly proxyLog: () => string,
  ) {}

  /**
   * A Deployment with `replicas` pods on the fake node, each with a backend on
   * its IP and `port`; resolves once all run and `routed` gives the host its
   * route serves.
   */
  async deploy(name: string, opts: { port: number; replicas?: number; annotations?: Record<string, string>; routed: (name: string) => Promise<string> }): Promise<App> {
    const replicas = opts.replicas ?? 2;
    const body = deploymentManifest(this.namespace, name, { labels: { ingReq: 'needed', port: String(opts.port) }, annotations: opts.annotations });
    body.spec!.replicas = replicas;
    // No scheduler runs here: the pods go straight to kwok's node.
    body.spec!.template.spec!.nodeName = FAKE_NODE_NAME;
    body.spec!.template.spec!.containers[0]!.ports = [{ containerPort: opts.port }];
    await this.env.clients.apps.createNamespacedDeployment({ namespace: this.namespace, body });
    const pods = await this.runningPods(name, replicas);
    await this.serve(pods, opts.port);
    return { name, host: await opts.routed(name), pods };
  }

  async runningPods(app: string, count: number): Promise<V1Pod[]> {
    return eventually(
      async () => {
        const list = await this.env.clients.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `app=${app}` });
        const running = list.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp);
        return running.length === count ? running : undefined;
      },
      { timeoutMs: 60_000, what: `${count} running pods of ${app}` },
    );
  }

  async serve(pods: V1Pod[], port: number): Promise<void> {
    for (const pod of pods) this.backends.push(await startBackend({ ip: pod.status!.podIP!, port, name: pod.metadata!.name! }));
  }

  /** The first 200 for `host`+`path`, within the bound. */
  async firstOk(host: string, path = '/', timeoutMs = RECOVERY_BOUND_MS): Promise<string> {
    let last = { status: 0, body: '' };
    return eventually(
      async () => {
        last = await this.proxy.get(host, path);
        return last.status === 200 ? last.body : undefined;
      },
      { timeoutMs, intervalMs: 50, what: `200 for ${host}${path} through the proxy` },
    ).catch((err: Error) => {
      err.message += ` (last answer: ${last.status} ${last.body.slice(0, 200)})`;
      throw new Error(`${err.message}\n--- proxy ---\n${this.proxyLog()}\n${this.env.logs()}`);
    });
  }

  /** The pods that answered `count` requests to `host`, each of which must be a 200. */
  async answeringPods(host: string, count: number): Promise<Set<string>> {
    const answered = new Set<string>();
    for (let i = 0; i < count; i++) {
      const res = await this.proxy.get(host, '/');
      assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.body}`);
      answered.add(res.body.split(' ')[0]!);
    }
    return answered;
  }

  /** Within the bound, 20 requests in a row answered 200 by exactly the app's pods, each of them. */
  async bothPodsAnswer(app: App): Promise<void> {
    let last = new Set<string>();
    await eventually(
      async () => {
        last = await this.answeringPods(app.host, 20);
        return last.size === app.pods.length;
      },
      { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 100, what: `every pod of ${app.name} to answer` },
    ).catch((err: Error) => {
      throw new Error(`${err.message} (last round answered by: ${[...last].join(', ')})`);
    });
    assert.deepEqual(last, podNames(app), 'the pods answer, and only they do');
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()));
  }
}
