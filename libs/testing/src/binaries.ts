import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The programs the control plane runs; build.sh produces all of them. */
export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl', 'nats-server'] as const;
/** The traffic suite's ingress proxy and fake kubelet (+ kwok's stages); `build.sh traffic` produces them. */
export const TRAFFIC_BINARIES = ['skipper', 'traefik', 'kwok'] as const;
/** The chart and monitoring tests' tools (+ the Prometheus Operator CRDs in crds/); `build.sh ops` produces them. */
export const OPS_BINARIES = ['helm', 'promtool'] as const;

export interface EnsureBinariesOptions {
  /** Receives build.sh's progress lines. Default: written to process.stderr. */
  log?: (line: string) => void;
  /** Environment for build.sh and for the EKSPOSE_BIN_DIR lookup. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The repository root, found from this file's place in it (libs/testing/src). */
export function workspaceRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

/** The Kubernetes version the local plane runs (tools/controlplane/versions.env), e.g. v1.37.2. */
export function planeKubernetesVersion(): string {
  const found = /^K8S_VERSION=(\S+)$/m.exec(readFileSync(join(workspaceRoot(), 'tools', 'controlplane', 'versions.env'), 'utf8'));
  if (!found?.[1]) throw new Error('tools/controlplane/versions.env names no K8S_VERSION');
  return found[1];
}

/**
 * `helm template` arguments with `--kube-version` of the plane, unless given: the helm built from
 * its Go module (build.sh ops) assumes Kubernetes 1.20 where no cluster answers, not the version a
 * release build of helm carries, and the chart's kubeVersion refuses 1.20.
 */
export function helmTemplateArgs(args: readonly string[]): string[] {
  return args[0] === 'template' && !args.includes('--kube-version') ? [...args, '--kube-version', planeKubernetesVersion()] : [...args];
}

/**
 * The folder holding actionlint, built first when needed by tools/controlplane/actionlint.sh
 * (its own cache, apart from build.sh's sets). `EKSPOSE_ACTIONLINT_BIN_DIR` points at a ready-made one.
 */
export async function ensureActionlint(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env['EKSPOSE_ACTIONLINT_BIN_DIR']) return resolve(env['EKSPOSE_ACTIONLINT_BIN_DIR']);
  const script = join(workspaceRoot(), 'tools', 'controlplane', 'actionlint.sh');
  const lockFile = join(env['TMPDIR'] ?? '/tmp', 'ekspose-actionlint-build.lock');
  const run = spawnSync('flock', [lockFile, 'bash', script], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`tools/controlplane/actionlint.sh failed (${run.status}):\n${run.stderr}`);
  return run.stdout.trim().split('\n').at(-1) ?? '';
}

function missingBinaries(binDir: string, names: readonly string[]): string[] {
  return names.filter((name) => {
    try {
      accessSync(join(binDir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

type BinarySet = 'controlplane' | 'traffic' | 'ops';

/** Per set (an argument of build.sh): the programs it must hold, and the variable that points at ready-made ones. */
const SETS: Record<BinarySet, { names: readonly string[]; override: string }> = {
  controlplane: { names: CONTROL_PLANE_BINARIES, override: 'EKSPOSE_BIN_DIR' },
  traffic: { names: TRAFFIC_BINARIES, override: 'EKSPOSE_TRAFFIC_BIN_DIR' },
  ops: { names: OPS_BINARIES, override: 'EKSPOSE_OPS_BIN_DIR' },
};

/**
 * Returns the folder holding the control-plane binaries, building them first
 * when needed (tools/controlplane/build.sh; a warm cache makes this instant).
 * `EKSPOSE_BIN_DIR` points at ready-made binaries instead and skips the build.
 */
export function ensureBinaries(options: EnsureBinariesOptions = {}): Promise<string> {
  return ensureSet('controlplane', options);
}

/**
 * The folder holding skipper, kwok and kwok-stages.yaml, building them first
 * when needed (`tools/controlplane/build.sh traffic`, same cache and progress
 * as the control plane). `EKSPOSE_TRAFFIC_BIN_DIR` points at ready-made ones.
 */
export function ensureTrafficBinaries(options: EnsureBinariesOptions = {}): Promise<string> {
  return ensureSet('traffic', options);
}

/**
 * The folder holding helm, promtool and crds/ (the Prometheus Operator's
 * ServiceMonitor and PrometheusRule CRDs), building them first when needed
 * (`tools/controlplane/build.sh ops`). `EKSPOSE_OPS_BIN_DIR` points at ready-made ones.
 */
export function ensureOpsBinaries(options: EnsureBinariesOptions = {}): Promise<string> {
  return ensureSet('ops', options);
}

async function ensureSet(set: BinarySet, options: EnsureBinariesOptions): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { names, override: variable } = SETS[set];
  const override = env[variable];
  if (override) {
    const binDir = resolve(override);
    const missing = missingBinaries(binDir, names);
    if (missing.length > 0) throw new Error(`${variable}=${override} lacks executable ${missing.join(', ')}`);
    return binDir;
  }
  return runBuild(set, names, env, log);
}

async function runBuild(set: BinarySet, names: readonly string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const script = join(workspaceRoot(), 'tools', 'controlplane', 'build.sh');
  // Test files run in parallel processes; the lock keeps a cold cache from being built twice at once.
  const lockFile = join(env['TMPDIR'] ?? '/tmp', `ekspose-${set}-build.lock`);
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string[] }>((done, fail) => {
    const haveFlock = spawnSync('flock', ['--version'], { env, stdio: 'ignore' }).status === 0;
    const [cmd, args] = haveFlock ? ['flock', [lockFile, 'bash', script, set]] : ['bash', [script, set]];
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let partial = '';
    const stderr: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        stderr.push(line);
        log(line);
      }
    });
    child.once('error', (error) => fail(new Error(`could not run ${script}: ${error.message}`)));
    child.once('close', (code) => {
      if (partial) {
        stderr.push(partial);
        log(partial);
      }
      done({ code, stdout, stderr });
    });
  });
  if (result.code !== 0) {
    const tail = result.stderr.slice(-20).join('\n');
    throw new Error(`building the ${set} binaries failed (${script} ${set} exited with ${result.code}):\n${tail}`);
  }
  const binDir = result.stdout.trimEnd().split('\n').pop()?.trim() ?? '';
  const missing = binDir ? missingBinaries(binDir, names) : [...names];
  if (missing.length > 0) {
    throw new Error(`${script} ${set} printed "${binDir}" but it lacks ${missing.join(', ')}`);
  }
  return binDir;
}
