// Reads what a controller serves on /metrics (Prometheus text format 0.0.4),
// so tests and benchmarks work on numbers rather than on regexes over the page:
// sums of series, and histograms with the bucket each quantile falls in.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricsPage {
  samples: Sample[];
  /** Metric family name -> type, from the `# TYPE` lines. */
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

export function parsePrometheusText(text: string): MetricsPage {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const [, family, type] = /^# TYPE (\S+) (\S+)$/.exec(line) ?? [];
      if (family && type) types.set(family, type);
      continue;
    }
    const [, name, labelText = '', value] = SAMPLE.exec(line) ?? [];
    if (!name || !value) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key = '', text = ''] of labelText.matchAll(LABEL)) labels[key] = unescapeLabel(text);
    samples.push({ name, labels, value: parseValue(value) });
  }
  return { samples, types };
}

type Samples = MetricsPage | readonly Sample[];
const samplesOf = (from: Samples): readonly Sample[] => ('samples' in from ? from.samples : from);

function matches(s: Sample, name: string, labels: Record<string, string>): boolean {
  return s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
}

/** Sum of the series of `name` whose labels include `labels`; 0 when there are none (an untouched counter). */
export function sampleSum(from: Samples, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(from)
    .filter((s) => matches(s, name, labels))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Whether at least one series of `name` with those labels is on the page. */
export function hasSample(from: Samples, name: string, labels: Record<string, string> = {}): boolean {
  return samplesOf(from).some((s) => matches(s, name, labels));
}

/** Cumulative bucket counts by upper bound (summed over the other labels), ascending, +Inf last. */
export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

export function histogram(from: Samples, name: string, labels: Record<string, string> = {}): Histogram {
  const byLe = new Map<number, number>();
  for (const s of samplesOf(from)) {
    if (!matches(s, `${name}_bucket`, labels)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return { buckets, count: sampleSum(from, `${name}_count`, labels), sum: sampleSum(from, `${name}_sum`, labels) };
}

/** later - earlier, bucket by bucket: what happened between two scrapes. */
export function histogramDelta(later: Histogram, earlier: Histogram): Histogram {
  const before = new Map(earlier.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: later.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) })),
    count: later.count - earlier.count,
    sum: later.sum - earlier.sum,
  };
}

/**
 * The upper bound of the bucket the q-quantile falls in (Infinity past the
 * last finite bound); NaN without observations. Interpolating inside a bucket,
 * as histogram_quantile does, would print precision the histogram does not have.
 */
export function histogramQuantile(h: Histogram, q: number): number {
  const total = h.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  return h.buckets.find((b) => b.count >= rank)?.le ?? Infinity;
}
