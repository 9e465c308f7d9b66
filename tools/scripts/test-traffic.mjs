#!/usr/bin/env node
// `npm run test:traffic`: the traffic suite (apps/ekspose-e2e/src/*.traffic.ts),
// real HTTP requests through skipper to pods kwok runs, inside a network
// namespace of its own.
//
//   1. builds (or finds cached) the control plane, skipper and kwok, outside the
//      namespace, where the Go module proxy is reachable;
//   2. `unshare --net` (needs root): a namespace whose only interface is `lo`,
//      up, carrying 10.77.0.1/24 for the pods' IPs; nothing inside can reach
//      any other network;
//   3. runs the suite there with node:test.
//
// EKSPOSE_TRAFFIC_IF_SUPPORTED=1 (what `npm test` sets): print why and exit 0
// where unshare does not work (not root, no `ip`); otherwise that is an error.
import { spawnSync } from 'node:child_process';

const ifSupported = process.env.EKSPOSE_TRAFFIC_IF_SUPPORTED === '1';
const NODE_IP_CIDR = '10.77.0.1/24';

function unsupported() {
  if (spawnSync('sh', ['-c', 'command -v unshare && command -v ip'], { stdio: 'ignore' }).status !== 0) {
    return 'needs unshare (util-linux) and ip (iproute2)';
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'needs root to make a network namespace (unshare --net)';
  }
  const probe = spawnSync('unshare', ['--net', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare --net failed here: ${(probe.stderr || probe.error?.message || '').trim()}`;
  return undefined;
}

const why = unsupported();
if (why) {
  if (ifSupported) {
    console.log(`==> skipped: traffic suite (${why})`);
    process.exit(0);
  }
  console.error(`test:traffic: ${why}`);
  process.exit(1);
}

function binDir(set) {
  const result = spawnSync('bash', ['tools/controlplane/build.sh', set], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  return result.stdout.trim().split('\n').pop();
}

const env = {
  ...process.env,
  EKSPOSE_BIN_DIR: binDir('controlplane'),
  EKSPOSE_TRAFFIC_BIN_DIR: binDir('traffic'),
  EKSPOSE_TEST_SUFFIX: '.traffic.ts',
};
console.log(`test:traffic: in a private network namespace, lo carrying ${NODE_IP_CIDR}`);
const result = spawnSync(
  'unshare',
  [
    '--net',
    '--',
    'sh',
    '-c',
    `ip link set lo up && ip addr add ${NODE_IP_CIDR} dev lo && exec "$@"`,
    'sh',
    process.execPath,
    'tools/scripts/run-tests.mjs',
    'apps/ekspose-e2e',
  ],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
