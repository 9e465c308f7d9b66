// Reads what a controller serves on /metrics (Prometheus text format 0.0.4),
// so tests assert on numbers rather than on regexes over the page.

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

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
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

/** Sum of the series of `name` whose labels include `labels`; 0 when there are none (an untouched counter). */
export function sampleSum(page: MetricsPage, name: string, labels: Record<string, string> = {}): number {
  return page.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Whether at least one series of `name` with those labels is on the page. */
export function hasSample(page: MetricsPage, name: string, labels: Record<string, string> = {}): boolean {
  return page.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
