// A controller run from its bundle the way the manifests run it (production,
// the manifests' Node flags, read from manifests/<app>/deployment.yaml), with
// plain-HTTP metrics on free loopback ports.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ControlPlane, type ProcessHandle, type Sample, freePorts, parsePrometheusText, sampleSum, startProcess, workspaceRoot } from '@ekspose/testing';

export const CONTROLLER_NAMESPACE = 'ekspose-system';

export type AppName = 'deployment-controller' | 'service-controller' | 'ingress-controller';

/** NODE_OPTIONS of the app's container in manifests/<app>/deployment.yaml, so the figures are those of what ships. */
export function manifestNodeOptions(app: AppName): string {
  const yaml = readFileSync(join(workspaceRoot(), 'manifests', app, 'deployment.yaml'), 'utf8');
  const match = /- name: NODE_OPTIONS\n\s+value: (.+)\n/.exec(yaml);
  if (!match?.[1]) throw new Error(`manifests/${app}/deployment.yaml sets no NODE_OPTIONS`);
  return match[1].trim().replace(/^"(.*)"$/, '$1');
}

export interface BenchController {
  handle: ProcessHandle;
  healthPort: number;
  metricsPort: number;
}

export async function startBenchController(
  plane: ControlPlane,
  opts: {
    app: AppName;
    identity: string;
    domain: string;
    env?: Record<string, string>;
    nodeArgs?: string[];
    /** Another Node binary than this process's (the runtime benchmark's contenders). */
    node?: string;
    /** NODE_OPTIONS instead of the manifest's (the runtime benchmark's V8 flags compared). */
    nodeOptions?: string;
  },
): Promise<BenchController> {
  const [healthPort, metricsPort] = (await freePorts(2)) as [number, number];
  const handle = startProcess({
    name: opts.identity,
    cmd: opts.node ?? process.execPath,
    args: [...(opts.nodeArgs ?? []), join(workspaceRoot(), 'dist', 'apps', opts.app, 'main.js')],
    logFile: join(plane.dir, `${opts.identity}.log`),
    env: {
      PATH: process.env.PATH ?? '',
      // As the manifests run it (manifests/<app>/deployment.yaml).
      NODE_ENV: 'production',
      NODE_OPTIONS: opts.nodeOptions ?? manifestNodeOptions(opts.app),
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

/** What a controller's /readyz tells (libs/k8s controller-host.ts readyz), as far as the benchmarks read it. */
export interface Readiness {
  ok: boolean;
  details: {
    leader?: boolean;
    /** EKSPOSE_SHARDS > 1: the ranges it serves, holds and claims, and the live members it sees. */
    shards?: { count: number; serving: number[]; held: number[]; claimed: number[]; members: number; problem?: string };
    queueHeld?: number;
    bookkeeping?: Record<string, number>;
    informers: Record<string, { synced: boolean; objects: number }>;
  };
}

export async function readyz(c: BenchController): Promise<Readiness> {
  const res = await fetch(`http://127.0.0.1:${c.healthPort}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as Readiness;
}

export interface Writes {
  create: number;
  patch: number;
  delete: number;
}

export async function scrape(metricsPort: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheusText(await res.text()).samples;
}

export function writesOf(samples: readonly Sample[]): Writes {
  const w = (action: string) => sampleSum(samples, 'ekspose_objects_written_total', { action });
  return { create: w('create'), patch: w('patch'), delete: w('delete') };
}

export function minusWrites(a: Writes, b: Writes): Writes {
  return { create: a.create - b.create, patch: a.patch - b.patch, delete: a.delete - b.delete };
}

let clockTicks: number | undefined;

/** User + system CPU seconds of a live process so far (clock-tick resolution, usually 10 ms). */
export function cpuOf(pid: number): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** VmRSS and VmHWM of a live process, in KiB. */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  const name = /^Name:\s+(\S+)/m.exec(status)?.[1];
  if (name !== 'node' && name !== 'MainThread') throw new Error(`pid ${pid} is ${name}, not the controller's node process`);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}


export const reconciles = (samples: readonly Sample[]) => sampleSum(samples, 'ekspose_reconcile_total');
export const queueDepth = (samples: readonly Sample[]) => sampleSum(samples, 'ekspose_queue_depth');

/** How often pollUntil looks: the figures it times are ± this. */
export const POLL_MS = 100;

/**
 * Polls `probe` every 100 ms until it returns a value; throws after timeoutMs,
 * or at once when `handle` (the controller being waited on, if any) has ended.
 */
export async function pollUntil<T>(what: string, timeoutMs: number, handle: ProcessHandle | undefined, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (handle && !handle.running) throw new Error(`${handle.name} exited (${JSON.stringify(handle.exit)}) while waiting for ${what}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`no ${what} within ${timeoutMs / 1000} s${detail}`);
    }
    await sleep(POLL_MS);
  }
}

/** Idle: at least `atLeast` reconciles done, nothing queued, and none finished over three polls in a row. */
export async function waitForIdle(handle: ProcessHandle, metricsPort: number, opts: { timeoutMs: number; atLeast?: number }): Promise<Sample[]> {
  let last = -1;
  let quiet = 0;
  const what = opts.atLeast ? `${opts.atLeast} reconciles and an idle work queue` : 'idle work queue';
  return pollUntil(what, opts.timeoutMs, handle, async () => {
    const samples = await scrape(metricsPort);
    const total = reconciles(samples);
    quiet = total >= (opts.atLeast ?? 0) && queueDepth(samples) === 0 && total === last ? quiet + 1 : 0;
    last = total;
    return quiet >= 3 ? samples : undefined;
  });
}

export interface LogEntry {
  time?: string;
  msg?: string;
  why?: string;
  keys?: number;
}

export function logEntries(handle: ProcessHandle): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of handle.readLog().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // a line cut by a concurrent write: the next read has it whole
    }
  }
  return entries;
}

/** When the controller first logged `msg` (its own clock). */
export function loggedAt(handle: ProcessHandle, msg: string): number {
  const entry = logEntries(handle).find((e) => e.msg === msg);
  if (!entry?.time) throw new Error(`${handle.name} never logged "${msg}"`);
  return Date.parse(entry.time);
}
