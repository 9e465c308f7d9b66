// Where the machine's CPU went while objects were being made: kube-apiserver,
// etcd and nats-server of one plane (found by the plane's directory on their
// command lines), the controller, and this benchmark's own process (the raw
// client, the watches that time everyone). On 2 cores shared by all of them,
// a contender's pace is set by how much CPU each object costs in total, not by
// its own process alone.
import { readFileSync, readdirSync } from 'node:fs';
import { cpuOf } from './controller-process';

/** Process label → CPU seconds (user + system) used so far. */
export type CpuSnapshot = Map<string, number>;

function commandLine(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The plane's processes (by their command name) and `others` (label → pid), with this process as `bench`. */
export function planeCpu(planeDir: string, others: Record<string, number> = {}): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  const named = new Set([process.pid, ...Object.values(others)]);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (named.has(Number(pid)) || !commandLine(pid).includes(planeDir)) continue;
    const comm = commOf(pid);
    try {
      snapshot.set(comm, (snapshot.get(comm) ?? 0) + cpuOf(Number(pid)));
    } catch {
      // Gone between the listing and the read.
    }
  }
  for (const [label, pid] of Object.entries(others)) snapshot.set(label, cpuOf(pid));
  const own = process.cpuUsage();
  snapshot.set('bench', (own.user + own.system) / 1e6);
  snapshot.set(STEAL, stolen());
  return snapshot;
}

/** Not a process: the time this VM's CPUs were ready but the host ran something else (/proc/stat `steal`), in CPU seconds. */
export const STEAL = 'steal';

function stolen(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  return Number(fields[8] ?? 0) / 100;
}

/** What each process used between two snapshots. */
export function cpuDelta(after: CpuSnapshot, before: CpuSnapshot): CpuSnapshot {
  return new Map([...after].map(([label, s]) => [label, s - (before.get(label) ?? 0)]));
}
