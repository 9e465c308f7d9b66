// One line per headline figure, which `npm run bench` (run.ts) gathers from
// every benchmark it ran into the summary table at the end:
//   summary<TAB>bench<TAB>figure<TAB>ekspose<TAB>baseline<TAB>ratio
export const SUMMARY_PREFIX = 'summary\t';

/** `ratio` is ekspose / baseline unless given (e.g. "5.1x faster"); '-' when there is no baseline. */
export function summaryLine(bench: string, figure: string, ekspose: string, baseline = '-', ratio = '-'): void {
  console.log(`${SUMMARY_PREFIX}${[bench, figure, ekspose, baseline, ratio].map((f) => f.replace(/\t/g, ' ')).join('\t')}`);
}

export function parseSummaryLine(line: string): string[] | undefined {
  return line.startsWith(SUMMARY_PREFIX) ? line.slice(SUMMARY_PREFIX.length).split('\t') : undefined;
}
