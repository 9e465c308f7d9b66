// What the API server itself counted: apiserver_request_total by verb and
// resource (summed over codes, scopes and groups), read from its /metrics with
// the plane's admin kubeconfig, so the requests a phase cost can be printed as
// the difference of two reads.
import { type ControlPlane, parsePrometheusText } from '@ekspose/testing';
import { fmt, table } from './stats';

export type RequestCounts = Map<string, number>;

export async function apiRequests(plane: ControlPlane): Promise<RequestCounts> {
  const result = await plane.kubectl(['get', '--raw', '/metrics']);
  if (result.code !== 0) throw new Error(`reading the API server's /metrics failed: ${result.stderr}`);
  const counts: RequestCounts = new Map();
  for (const s of parsePrometheusText(result.stdout).samples) {
    // Non-resource requests (/metrics, /healthz, discovery) have no resource: not ours to count.
    if (s.name !== 'apiserver_request_total' || !s.labels['resource']) continue;
    const sub = s.labels['subresource'] ? `/${s.labels['subresource']}` : '';
    const key = `${s.labels['verb']} ${s.labels['resource']}${sub}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

export function requestDelta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const delta: RequestCounts = new Map();
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return delta;
}

/** One row per verb and resource, one column per phase, heaviest first, and a total. */
export function requestTable(columns: Array<{ name: string; counts: RequestCounts }>): string {
  const keys = [...new Set(columns.flatMap((c) => [...c.counts.keys()]))];
  const sum = (key: string) => columns.reduce((t, c) => t + (c.counts.get(key) ?? 0), 0);
  keys.sort((a, b) => sum(b) - sum(a) || a.localeCompare(b));
  const rows = keys.map((key) => [key, ...columns.map((c) => fmt(c.counts.get(key) ?? 0))]);
  rows.push(['total', ...columns.map((c) => fmt([...c.counts.values()].reduce((t, n) => t + n, 0)))]);
  return table(['verb resource', ...columns.map((c) => c.name)], rows);
}
