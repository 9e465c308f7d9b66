// The API requests a phase cost, as a table: the counting itself is
// @ekspose/testing's apiRequests/requestDelta (the tests use it too).
import type { RequestCounts } from '@ekspose/testing';
import { fmt, table } from './stats';

export { apiRequests, apiWatches, requestDelta, type RequestCounts } from '@ekspose/testing';

/** One row per verb and resource, one column per phase, heaviest first, and a total. */
export function requestTable(columns: Array<{ name: string; counts: RequestCounts }>): string {
  const keys = [...new Set(columns.flatMap((c) => [...c.counts.keys()]))];
  const sum = (key: string) => columns.reduce((t, c) => t + (c.counts.get(key) ?? 0), 0);
  keys.sort((a, b) => sum(b) - sum(a) || a.localeCompare(b));
  const rows = keys.map((key) => [key, ...columns.map((c) => fmt(c.counts.get(key) ?? 0))]);
  rows.push(['total', ...columns.map((c) => fmt([...c.counts.values()].reduce((t, n) => t + n, 0)))]);
  return table(['verb resource', ...columns.map((c) => c.name)], rows);
}
