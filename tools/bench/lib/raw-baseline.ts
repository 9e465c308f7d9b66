// The baseline ekspose's convergence is held to: a tight client that makes the
// same Services and Ingresses directly (the very objects the controller would,
// ownerReferences included, from @ekspose/expose's builders) with a fixed number
// of requests in flight, on a control plane like the scenario's. What it
// measures is the API server's own pace on this machine; ekspose's
// "leading -> all present" over it is the ratio issue 10 asks about.
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients } from '@ekspose/k8s';
import { parseExposeSpec } from '@ekspose/labels';
import { desiredIngress, desiredService, loadSettings } from '@ekspose/expose';
import { type RequestCounts, apiRequests, requestDelta, startControlPlane } from '@ekspose/testing';

export interface RawBaselineResult {
  inFlight: number;
  objects: number;
  ms: number;
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
  const plane = await startControlPlane({ controllerManager: false, nats: false, apiserverExtraArgs: input.apiserverExtraArgs, log: () => undefined });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const clients = createKubeClients(kc);
    await input.prepare(clients);
    const deployments = (await clients.apps.listDeploymentForAllNamespaces({})).items;
    const objects = desiredObjects(deployments, input.domain);
    let next = 0;
    const before = await apiRequests(plane);
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
    const ms = Date.now() - started;
    return { inFlight: input.inFlight, objects: objects.length, ms, requests: requestDelta(await apiRequests(plane), before) };
  } finally {
    await plane.stop();
  }
}
