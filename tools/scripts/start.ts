// `npm start`: the three controllers on this machine against the cluster your
// kubeconfig names (KUBECONFIG, else ~/.kube/config), as kubectl would use it.
// With no cluster configured it runs `npm run dev` (a local control plane) instead.
import { spawnSync } from 'node:child_process';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { workspaceRoot } from '@ekspose/testing';
import { buildApps, runControllers } from './lib/controllers';

const root = workspaceRoot();
const kc = new KubeConfig();
let server: string | undefined;
try {
  kc.loadFromDefault();
  server = kc.getCurrentCluster()?.server;
} catch (err) {
  console.error(`==> could not read the kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const configured = Boolean(process.env.KUBECONFIG) || (server !== undefined && server !== 'http://localhost:8080');
if (!configured) {
  console.log('==> no cluster configured (KUBECONFIG unset, no ~/.kube/config): running `npm run dev` instead');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'tools/scripts/dev.ts', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const namespace = process.env.POD_NAMESPACE ?? 'ekspose';
console.log(`==> ekspose against ${server} (context ${kc.getCurrentContext()}), leases in namespace ${namespace}`);
try {
  await kc.makeApiClient(AppsV1Api).listDeploymentForAllNamespaces({ limit: 1 });
} catch (err) {
  console.error(`==> cannot list Deployments on ${server}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  process.exit(1);
}
try {
  await kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
} catch {
  console.error(
    `==> namespace ${namespace} does not exist: the controllers keep their leader Leases there.\n` +
      `    Create it (kubectl create namespace ${namespace}) or set POD_NAMESPACE to an existing namespace.`,
  );
  process.exit(1);
}
buildApps(root);
// Three processes on one host: metrics/probes on 8080/8081, 8082/8083, 8084/8085.
const controllers = runControllers(
  root,
  { POD_NAMESPACE: namespace },
  (_app, i) => ({ EKSPOSE_METRICS_PORT: String(8080 + 2 * i), EKSPOSE_HEALTH_PORT: String(8081 + 2 * i) }),
  process.argv.includes('--json'),
);
let stopping: Promise<void> | undefined;
const stop = (code: number) => {
  stopping ??= controllers.stop().then(() => process.exit(code));
};
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
controllers.exited.then((why) => {
  if (stopping) return;
  console.error(`==> ${why}; stopping`);
  stop(1);
});
