// `npm run dev`: everything on this machine, in the foreground. A local
// control plane (etcd, kube-apiserver, kube-controller-manager) and NATS, the
// three controllers with readable logs, and the samples applied. Ctrl-C stops
// all of it. The first run builds the control-plane binaries (~10 minutes).
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { freePorts, startControlPlane, workspaceRoot } from '@ekspose/testing';
import { buildApps, runControllers } from './lib/controllers';

const root = workspaceRoot();
const devDir = join(root, '.ekspose', 'dev');
const raw = process.argv.includes('--json');

console.log('==> ekspose dev: local control plane + NATS + deployment-, service- and ingress-controller');
buildApps(root);
const plane = await startControlPlane({ log: (line) => console.log(`[plane] ${line}`), handleSignals: false });
mkdirSync(devDir, { recursive: true });
copyFileSync(plane.kubeconfigPath, join(devDir, 'kubeconfig'));
const env = plane.env();
writeFileSync(
  join(devDir, 'env'),
  [
    `export KUBECONFIG=${join(devDir, 'kubeconfig')}`,
    // The admin NATS user, for the nats CLI (`nats stream view EKSPOSE`); each controller runs as its own.
    ...Object.entries(env)
      .filter(([k]) => k.startsWith('NATS_'))
      .map(([k, v]) => `export ${k}=${v}`),
    `export PATH=${plane.binDir}:$PATH`,
    '',
  ].join('\n'),
  { mode: 0o600 },
);
await plane.kubectl(['create', 'namespace', 'ekspose-system']);
// The Gateway API (CRDs from the Go module sigs.k8s.io/gateway-api, cached), so the HTTPRoute sample has one.
console.log('==> installing the Gateway API CRDs');
const gatewayApi = await plane.installGatewayApi().then(
  () => true,
  (err: unknown) => {
    console.log(`==> the Gateway API is not installed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); the HTTPRoute sample waits for it`);
    return false;
  },
);

const ports = await freePorts(6);
const controllers = runControllers(
  root,
  {
    KUBECONFIG: plane.kubeconfigPath,
    POD_NAMESPACE: 'ekspose-system',
    EKSPOSE_BIND_ADDRESS: '127.0.0.1',
    EKSPOSE_DOMAIN: process.env.EKSPOSE_DOMAIN ?? 'ekspose.local',
  },
  (app, i) => ({ ...plane.natsEnv(app), EKSPOSE_HEALTH_PORT: String(ports[2 * i]), EKSPOSE_METRICS_PORT: String(ports[2 * i + 1]), EKSPOSE_METRICS_SECURE: 'false' }),
  raw,
);

let stopping: Promise<void> | undefined;
function shutdown(code: number): void {
  // Ctrl-C reaches the whole process group: the controllers stop on their own
  // too, so their exit during shutdown is expected, not a reason to hurry.
  stopping ??= (async () => {
    console.log('\n==> stopping controllers and the control plane ...');
    await controllers.stop();
    await plane.stop();
    rmSync(devDir, { recursive: true, force: true });
    console.log('==> stopped; nothing left running');
    process.exit(code);
  })();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
controllers.exited.then((why) => {
  if (stopping) return;
  console.error(`==> ${why}; stopping`);
  shutdown(1);
});

const applied = await plane.kubectl(['apply', '-k', join(root, 'manifests', 'samples')]);
console.log(applied.code === 0 ? applied.stdout.trim() : `samples not applied: ${applied.stderr.trim()}`);
if (gatewayApi) {
  const gateway = await plane.kubectl(['apply', '-k', join(root, 'manifests', 'samples', 'gateway')]);
  console.log(gateway.code === 0 ? gateway.stdout.trim() : `sample Gateway not applied: ${gateway.stderr.trim()}`);
}
const envFile = relative(process.cwd(), join(devDir, 'env'));
console.log(`
==> ekspose is running against a local control plane (Ctrl-C stops everything)

  In another terminal:
    . ${envFile}                       # KUBECONFIG, NATS_URL, and the built kubectl first on PATH
    kubectl get deploy,svc,ing,httproute -A   # the samples got their Service / Ingress / HTTPRoute
    kubectl describe deploy -A | grep -A3 Events   # the invalid sample's Warning
    kubectl delete svc <name> -n <ns>  # ...and watch it come back
    kubectl delete deploy <name> -n <ns>   # ...its Service and Ingress go, for good

  kube-apiserver feature gates: ${Object.entries(plane.featureGates).map(([name, on]) => `${name}=${on}`).join(', ')}
  Probes and metrics: ${['deployment', 'service', 'ingress'].map((a, i) => `${a} :${ports[2 * i]}/readyz :${ports[2 * i + 1]}/metrics`).join(', ')}
`);
