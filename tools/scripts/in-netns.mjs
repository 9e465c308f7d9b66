#!/usr/bin/env node
// Runs a command inside a network namespace of its own, for the traffic suite
// and the traffic benchmark (real HTTP through skipper and Traefik to pods kwok runs):
//
//   node tools/scripts/in-netns.mjs [--label 'traffic suite'] -- <command> [args...]
//
//   1. builds (or finds cached) the control plane, skipper, Traefik and kwok, outside the
//      namespace, where the Go module proxy is reachable, and passes their
//      folders on (EKSPOSE_BIN_DIR, EKSPOSE_TRAFFIC_BIN_DIR);
//   2. `unshare --net` (needs root): a namespace whose only interface is `lo`,
//      up, carrying 10.77.0.1/24 for the pods' IPs (the API server refuses
//      loopback addresses in EndpointSlices); nothing inside reaches any other network;
//   3. runs the command there and exits with its status.
//
// EKSPOSE_TRAFFIC_IF_SUPPORTED=1 (what `npm test` sets): where unshare does not
// work (not root, no `ip`), print why and exit 0; otherwise that is an error.
import { spawnSync } from 'node:child_process';

const NODE_IP_CIDR = '10.77.0.1/24';
const split = process.argv.indexOf('--');
const command = split === -1 ? [] : process.argv.slice(split + 1);
const own = split === -1 ? process.argv.slice(2) : process.argv.slice(2, split);
// What the skip line names: `--label <what>`.
const label = own[0] === '--label' && own[1] ? own[1] : command.join(' ');
if (command.length === 0) {
  console.error("usage: node tools/scripts/in-netns.mjs [--label 'traffic suite'] -- <command> [args...]");
  process.exit(2);
}

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
  if (process.env.EKSPOSE_TRAFFIC_IF_SUPPORTED === '1') {
    console.log(`==> skipped: ${label} (${why})`);
    process.exit(0);
  }
  console.error(`in-netns: ${why}`);
  process.exit(1);
}

function binDir(set) {
  const result = spawnSync('bash', ['tools/controlplane/build.sh', set], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  return result.stdout.trim().split('\n').pop();
}

const env = { ...process.env, EKSPOSE_BIN_DIR: binDir('controlplane'), EKSPOSE_TRAFFIC_BIN_DIR: binDir('traffic') };
console.log(`in-netns: a private network namespace, lo carrying ${NODE_IP_CIDR}`);
const result = spawnSync(
  'unshare',
  ['--net', '--', 'sh', '-c', `ip link set lo up && ip addr add ${NODE_IP_CIDR} dev lo && exec "$@"`, 'sh', ...command],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
