// Summaries of repeated measurements, and the plain-text tables the
// benchmarks print. No timing decides anything here: figures are printed.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  /** (p75 - p25) / median, in percent: how noisy the rounds were. */
  iqrPct: number;
}

/** Linear interpolation between closest ranks, on a sorted copy. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(values: readonly number[]): Summary {
  const median = quantile(values, 0.5);
  const p25 = quantile(values, 0.25);
  const p75 = quantile(values, 0.75);
  return {
    n: values.length,
    median,
    min: Math.min(...values),
    max: Math.max(...values),
    p25,
    p75,
    iqrPct: median > 0 ? ((p75 - p25) / median) * 100 : 0,
  };
}

/** 1234567 → "1,234,567"; fractions kept to `digits`. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mib(bytes: number, digits = 1): string {
  return `${fmt(bytes / 1024 / 1024, digits)} MiB`;
}

/** Columns aligned; the first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** "3.2x faster" / "1.4x slower" for a ratio of times (baseline / candidate). */
export function speedup(baseline: number, candidate: number): string {
  if (!(baseline > 0) || !(candidate > 0)) return 'n/a';
  const ratio = baseline / candidate;
  return ratio >= 1 ? `${fmt(ratio, 2)}x faster` : `${fmt(1 / ratio, 2)}x slower`;
}
