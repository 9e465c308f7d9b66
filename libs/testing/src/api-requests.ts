// What the API server itself counted: apiserver_request_total by verb and
// resource (summed over codes, scopes and groups), read from its /metrics with
// the plane's admin kubeconfig, so the requests a phase cost can be told as
// the difference of two reads (the tests' figures and the benchmarks' tables);
// and the WATCH streams it holds open now, by resource.
import type { ControlPlane } from './control-plane';
import { type Sample, parsePrometheusText } from './prometheus-text';

/** `<verb> <resource>[/<subresource>]` → requests, e.g. `POST services` → 200. */
export type RequestCounts = Map<string, number>;

async function apiServerSamples(plane: Pick<ControlPlane, 'kubectl'>): Promise<Sample[]> {
  const result = await plane.kubectl(['get', '--raw', '/metrics']);
  if (result.code !== 0) throw new Error(`reading the API server's /metrics failed: ${result.stderr}`);
  return parsePrometheusText(result.stdout).samples;
}

export async function apiRequests(plane: Pick<ControlPlane, 'kubectl'>): Promise<RequestCounts> {
  const counts: RequestCounts = new Map();
  for (const s of await apiServerSamples(plane)) {
    // Non-resource requests (/metrics, /healthz, discovery) have no resource: not ours to count.
    if (s.name !== 'apiserver_request_total' || !s.labels['resource']) continue;
    const sub = s.labels['subresource'] ? `/${s.labels['subresource']}` : '';
    const key = `${s.labels['verb']} ${s.labels['resource']}${sub}`;
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

/** resource → WATCH streams the API server holds open now (`apiserver_longrunning_requests{verb="WATCH"}`, summed over groups and scopes). */
export async function apiWatches(plane: Pick<ControlPlane, 'kubectl'>): Promise<Map<string, number>> {
  const streams = new Map<string, number>();
  for (const s of await apiServerSamples(plane)) {
    if (s.name !== 'apiserver_longrunning_requests' || s.labels['verb'] !== 'WATCH' || !s.labels['resource']) continue;
    streams.set(s.labels['resource'], (streams.get(s.labels['resource']) ?? 0) + s.value);
  }
  return streams;
}

export function requestDelta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const delta: RequestCounts = new Map();
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return delta;
}
