#!/usr/bin/env node
// `npm test`: everything, in the order that fails fastest.
//   1. the control-plane binaries (built once, then cached under ~/.cache/ekspose),
//      helm and promtool for the chart and monitoring tests, and the Argo CD and
//      Flux CRDs for the GitOps examples,
//   2. lint, typecheck, unit tests and the app bundles of every project (Nx),
//   3. the three container images, built with podman and smoke-tested,
//   4. the integration suite against a real kube-apiserver, etcd, GC and NATS,
//   5. the traffic suite: real HTTP through skipper to pods kwok runs, in a
//      network namespace of its own (root and unshare; skipped, saying why, elsewhere).
// Set EKSPOSE_SKIP_E2E=1 to stop after step 2.
// `npm run test:traffic` (--traffic): steps 1 and 5 only, and a failure where step 5 cannot run.
import { spawnSync } from 'node:child_process';
import { ensureDependencies } from './lib/ensure-deps.mjs';

const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: process.env.FORCE_COLOR ?? '0' };
const started = Date.now();

function step(title, cmd, args) {
  const t0 = Date.now();
  console.log(`\n==> ${title}`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`\n==> FAILED: ${title} (${secs}s)`);
    process.exit(result.status ?? 1);
  }
  console.log(`==> ok: ${title} (${secs}s)`);
}

const trafficOnly = process.argv.includes('--traffic');
const trafficStep = (title) => step(title, 'npx', ['nx', 'run', 'ekspose-e2e:traffic', '--outputStyle=static']);

ensureDependencies();
console.log(`==> ekspose tests on node ${process.version} (${process.execPath})`);
if (trafficOnly) {
  step('control-plane binaries (first run builds them: ~10 min on 2 cores)', 'bash', ['tools/controlplane/build.sh']);
  trafficStep('traffic suite (the first run builds skipper, Traefik and kwok: about an hour on 2 busy cores)');
  console.log(`\n==> traffic suite passed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  process.exit(0);
}
step('control-plane binaries (first run builds them: ~10 min on 2 cores)', 'bash', ['tools/controlplane/build.sh']);
if (process.env.EKSPOSE_SKIP_E2E !== '1') {
  step('helm, promtool and the Prometheus Operator CRDs for the chart and monitoring tests (first run: ~5 min)', 'bash', ['tools/controlplane/build.sh', 'ops']);
  step('the Argo CD and Flux CRDs for the GitOps examples test (first run: ~2 min)', 'bash', ['tools/controlplane/gitops-crds.sh']);
}
step('lint, typecheck, unit tests and builds', 'npx', [
  'nx', 'run-many', '-t', 'lint', 'typecheck', 'test', 'build', '--parallel=2', '--outputStyle=static',
]);
// Images need podman (installed by tools/images/lib.sh with apt-get when missing):
// always on CI, on a developer machine when podman is there or asked for.
const hasPodman = spawnSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' }).status === 0;
if (process.env.CI || hasPodman || process.env.EKSPOSE_CONTAINERS === '1') {
  step('container images: build with podman and smoke-test each', 'npx', ['nx', 'run', 'images:container', '--outputStyle=static']);
} else {
  console.log('\n==> skipped: container images (podman not installed; CI builds them, or set EKSPOSE_CONTAINERS=1)');
}
if (process.env.EKSPOSE_SKIP_E2E !== '1') {
  step('integration suite (real control plane)', 'npx', ['nx', 'run', 'ekspose-e2e:e2e', '--outputStyle=static']);
  env.EKSPOSE_TRAFFIC_IF_SUPPORTED = '1';
  trafficStep('traffic suite (real HTTP through skipper and Traefik; the first run builds skipper, Traefik and kwok: about an hour on 2 busy cores)');
}
console.log(`\n==> all tests passed in ${((Date.now() - started) / 1000).toFixed(0)}s`);
