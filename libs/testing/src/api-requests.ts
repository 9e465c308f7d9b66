// What the API server itself counted: apiserver_request_total by verb and
// resource (summed over codes, scopes and groups), read from its /metrics with
// the plane's admin kubeconfig, so the requests a phase cost can be told as
// the difference of two reads (the tests' figures and the benchmarks' tables).
import type { ControlPlane } from './control-plane';
import { parsePrometheusText } from './prometheus-text';

/** `<verb> <resource>[/<subresource>]` → requests, e.g. `POST services` → 200. */
export type RequestCounts = Map<string, number>;

export async function apiRequests(plane: Pick<ControlPlane, 'kubectl'>): Promise<RequestCounts> {
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
