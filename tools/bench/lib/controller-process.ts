// A controller run from its bundle the way the manifests run it (production,
// the manifests' heap flag), with plain-HTTP metrics on free loopback ports.
import { join } from 'node:path';
import { type ControlPlane, type ProcessHandle, freePorts, startProcess, workspaceRoot } from '@ekspose/testing';

export const CONTROLLER_NAMESPACE = 'ekspose-system';

export type AppName = 'deployment-controller' | 'service-controller' | 'ingress-controller';

export interface BenchController {
  handle: ProcessHandle;
  healthPort: number;
  metricsPort: number;
}

export async function startBenchController(
  plane: ControlPlane,
  opts: { app: AppName; identity: string; domain: string; env?: Record<string, string> },
): Promise<BenchController> {
  const [healthPort, metricsPort] = (await freePorts(2)) as [number, number];
  const handle = startProcess({
    name: opts.identity,
    cmd: process.execPath,
    args: [join(workspaceRoot(), 'dist', 'apps', opts.app, 'main.js')],
    logFile: join(plane.dir, `${opts.identity}.log`),
    env: {
      PATH: process.env.PATH ?? '',
      // As the manifests run it (manifests/<app>/deployment.yaml).
      NODE_ENV: 'production',
      NODE_OPTIONS: '--max-old-space-size=192',
      KUBECONFIG: plane.kubeconfigPath,
      ...plane.natsEnv(opts.app),
      POD_NAMESPACE: CONTROLLER_NAMESPACE,
      POD_NAME: opts.identity,
      EKSPOSE_DOMAIN: opts.domain,
      EKSPOSE_BIND_ADDRESS: '127.0.0.1',
      EKSPOSE_HEALTH_PORT: String(healthPort),
      EKSPOSE_METRICS_PORT: String(metricsPort),
      EKSPOSE_METRICS_SECURE: 'false',
      LOG_LEVEL: 'info',
      ...opts.env,
    },
  });
  return { handle, healthPort, metricsPort };
}
