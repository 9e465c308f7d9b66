// The baseline ekspose's convergence is held to: a tight client that makes the
// same Services and Ingresses directly (the very objects the controller would,
// ownerReferences included, from @ekspose/expose's builders) with a fixed number
// of requests in flight, on a control plane like the scenario's. What it
// measures is the API server's own pace on this machine; ekspose's
// "leading -> all present" over it is the ratio issue 10 asks about.
//
// Measured as the contenders are: on a plane like theirs (NATS included), with
// the same watches noting when each object arrives (lib/object-counter.ts's
// Arrivals), from the first create to the last object's arrival.
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients } from '@ekspose/k8s';
import { MANAGED_SELECTOR } from '@ekspose/labels';
import { parseExposeSpec } from '@ekspose/labels';
import { desiredIngress, desiredService, loadSettings } from '@ekspose/expose';
import { type RequestCounts, apiRequests, requestDelta, startControlPlane } from '@ekspose/testing';
import { type Arrivals, ObjectCounter } from './object-counter';
import { type CpuSnapshot, cpuDelta, planeCpu } from './plane-cpu';

export interface RawBaselineResult {
  inFlight: number;
  objects: number;
  /** First create → the last object's arrival through the watches (the contenders' instrument). */
  ms: number;
  /** First create → the last create answered. */
  createsMs: number;
  /** CPU seconds by process from the first create to the last arrival. */
  cpu: CpuSnapshot;
  /** What the API server counted while the objects were created. */
  requests: RequestCounts;
}

export interface RawBaselineInput {
  n: number;
  inFlight: number;
  domain: string;
  /** Makes the namespaces and the N Deployments, as the scenario does. */
  prepare: (clients: KubeClients) => Promise<void>;
  apiserverExtraArgs: string[];
}

/** The Services and Ingresses ekspose would make for these Deployments. */
function desiredObjects(deployments: V1Deployment[], domain: string) {
  const loaded = loadSettings({ EKSPOSE_DOMAIN: domain });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return deployments.flatMap((dep) => {
    const parsed = parseExposeSpec(dep, loaded.settings);
    if (parsed.kind !== 'expose') return [];
    const ingress = desiredIngress(parsed.spec);
    return [{ kind: 'service' as const, body: desiredService(parsed.spec) }, ...(ingress ? [{ kind: 'ingress' as const, body: ingress }] : [])];
  });
}

export async function rawBaseline(input: RawBaselineInput): Promise<RawBaselineResult> {
  const plane = await startControlPlane({ controllerManager: false, apiserverExtraArgs: input.apiserverExtraArgs, log: () => undefined });
  let counter: ObjectCounter | undefined;
  let arrivals: Arrivals[] = [];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const clients = createKubeClients(kc);
    await input.prepare(clients);
    const deployments = (await clients.apps.listDeploymentForAllNamespaces({})).items;
    const objects = desiredObjects(deployments, input.domain);
    counter = await ObjectCounter.create(kc);
    const selector = `labelSelector=${encodeURIComponent(MANAGED_SELECTOR)}`;
    arrivals = [counter.arrivals(`/api/v1/services?${selector}`), counter.arrivals(`/apis/networking.k8s.io/v1/ingresses?${selector}`)];
    const arrived = () => arrivals.reduce((sum, a) => sum + a.size, 0);
    let next = 0;
    const before = await apiRequests(plane);
    const cpuBefore = planeCpu(plane.dir);
    const started = Date.now();
    const worker = async () => {
      while (next < objects.length) {
        const { kind, body } = objects[next++]!;
        const namespace = body.metadata!.namespace!;
        if (kind === 'service') await clients.core.createNamespacedService({ namespace, body: body as never });
        else await clients.networking.createNamespacedIngress({ namespace, body: body as never });
      }
    };
    await Promise.all(Array.from({ length: input.inFlight }, worker));
    const createsMs = Date.now() - started;
    const deadline = Date.now() + 60_000;
    while (arrived() < objects.length) {
      if (Date.now() > deadline) throw new Error(`raw baseline: ${arrived()} of ${objects.length} objects arrived through the watches within 60 s of the last create`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = Math.max(...arrivals.map((a) => a.lastAt)) - started;
    const cpu = cpuDelta(planeCpu(plane.dir), cpuBefore);
    return { inFlight: input.inFlight, objects: objects.length, ms, createsMs, cpu, requests: requestDelta(await apiRequests(plane), before) };
  } finally {
    for (const a of arrivals) a.stop();
    counter?.close();
    await plane.stop();
  }
}
