// What the macro benchmarks do to a plane besides running controllers: the
// controllers' bundles built (or checked), namespaces made, Deployments of the
// shape ekspose exposes, and a watch that notes when each object first arrived.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type KubeConfig, type V1Deployment, Watch } from '@kubernetes/client-node';
import { type KubeClients, statusCodeOf } from '@ekspose/k8s';
import { workspaceRoot } from '@ekspose/testing';
import type { AppName } from './controller-process';

/** The harness's /24 holds 253 Services; later flags win, and 10.0.0.1 stays the `kubernetes` Service's IP. */
export const SERVICE_RANGE_ARGS = ['--service-cluster-ip-range=10.0.0.0/16'];

/** Bundles each app as the image has it (tools/scripts/bundle.mjs), or, with build false, checks that its bundle exists. */
export function bundleApps(apps: readonly AppName[], build: boolean): void {
  for (const app of apps) {
    const bundle = join(workspaceRoot(), 'dist', 'apps', app, 'main.js');
    if (build) {
      const built = spawnSync(process.execPath, ['tools/scripts/bundle.mjs', app], { cwd: workspaceRoot(), stdio: ['ignore', 'ignore', 'inherit'] });
      if (built.status !== 0) throw new Error(`bundling ${app} failed`);
    } else if (!existsSync(bundle)) {
      throw new Error(`${bundle} is missing: drop --no-build, or run node tools/scripts/bundle.mjs ${app}`);
    }
  }
}

/** Creates the namespace; one that exists already is fine. */
export async function ensureNamespace(clients: KubeClients, name: string): Promise<void> {
  try {
    await clients.core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
  }
}

/** A one-container Deployment ekspose exposes (label `app: <name>`, a named port), with `labels` added. */
export function benchDeployment(namespace: string, name: string, labels: Record<string, string> = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name, ...labels } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  };
}

/**
 * Watches `path` (with `params`: a label selector, a resourceVersion to start
 * from) and notes in `seen` when ADDED first arrived for each name. `onEnd`
 * hears of the watch ending, with its error if any.
 */
export async function watchAdded(
  kc: KubeConfig,
  path: string,
  seen: Map<string, number>,
  params: Record<string, string> = {},
  onEnd: (err?: unknown) => void = () => undefined,
): Promise<AbortController> {
  return new Watch(kc).watch(
    path,
    params,
    (type: string, obj: { metadata?: { name?: string } }) => {
      const name = obj.metadata?.name;
      if (type === 'ADDED' && name && !seen.has(name)) seen.set(name, Date.now());
    },
    (err: unknown) => onEnd(err ?? undefined),
  );
}
