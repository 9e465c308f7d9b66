// The convergence benchmark's pairs (issue 27): every round runs the raw
// client and each contender on fresh planes of their own; printed per pair are
// the contender's rate over the raw client's of the same round (and the median
// over pairs), the Events written during and after convergence with the last
// Exposed Event's delay, and the writes by kind as the API server counted them.
import type { RequestCounts } from '@ekspose/testing';
import { type EventFigures, writesByKind } from './event-watch';
import type { RawBaselineResult } from './raw-baseline';
import { type CpuSnapshot, STEAL } from './plane-cpu';
import { fmt, quantile, table } from './stats';
import { summaryLine } from './summary';

/** What a convergence scenario gives this report. */
export interface PairedScenario {
  label: string;
  round: number;
  objects: number;
  leadingMs: number;
  convergedMs: number;
  /** CPU seconds by process from leading to convergence. */
  machineCpu: CpuSnapshot;
  eventWritesDuring: number;
  eventWritesAfter: number;
  events: EventFigures;
  /** From the controller's start until its Exposed Events were in. */
  requestsToEvents: RequestCounts;
}

const secs = (ms: number, digits = 2) => fmt(ms / 1000, digits);

/** Issue 27's figures, pair by pair: each contender's rate against the raw client's of the same round, writes by kind, Events. */
export function reportPairs(raws: RawBaselineResult[], results: PairedScenario[], defaultLabel: string): void {
  const labels = [...new Set(results.map((r) => r.label))];
  const rate = (objects: number, ms: number) => objects / (ms / 1000);
  const ratioOf = (r: PairedScenario) => rate(r.objects, r.convergedMs - r.leadingMs) / rate(raws[r.round - 1]!.objects, raws[r.round - 1]!.ms);
  console.log(
    `\npairs: each round's raw client (the same objects created directly, ${raws[0]!.inFlight} in flight, on a fresh plane) against each contender of that round, leading -> all present;` +
      ` both timed by the same watches (the raw client from its first create to the last object's arrival; its last create answered in the third column):\n`,
  );
  console.log(
    table(
      ['round', 'raw (s)', 'raw creates (s)', 'raw objects/s', ...labels.flatMap((l) => [`${l} (s)`, 'ratio'])],
      raws.map((raw, i) => [
        String(i + 1),
        secs(raw.ms),
        secs(raw.createsMs),
        fmt(rate(raw.objects, raw.ms), 1),
        ...labels.flatMap((l) => {
          const r = results.find((x) => x.label === l && x.round === i + 1);
          return r ? [secs(r.convergedMs - r.leadingMs), `${fmt(ratioOf(r), 2)}x`] : ['-', '-'];
        }),
      ]),
    ),
  );
  for (const label of labels) {
    const ratios = results.filter((r) => r.label === label).map(ratioOf);
    const median = quantile(ratios, 0.5);
    console.log(`  ${label}: median ratio over ${ratios.length} pair(s) ${fmt(median, 2)}x (pairs ${ratios.map((x) => fmt(x, 2)).join(', ')}).`);
    if (label === defaultLabel) {
      const work = quantile(results.filter((r) => r.label === label).map((r) => r.convergedMs - r.leadingMs), 0.5);
      summaryLine('convergence', `objects/s creating ${fmt(raws[0]!.objects)} objects (leading -> all present)`, fmt(rate(raws[0]!.objects, work), 1), 'raw client, same round', `${fmt(median, 2)}x`);
    }
  }
  reportCpu(raws, results);
  console.log('\nEvents (issue 27): written during convergence and after it (POST and PATCH events, apiserver_request_total), and the Exposed Events as a watch saw them:\n');
  console.log(
    table(
      ['contender #round', 'Event writes to convergence', 'after', 'Exposed during', 'after', 'missing', 'last Exposed after convergence (s)'],
      results.map((r) => [
        `${r.label} #${r.round}`,
        fmt(r.eventWritesDuring),
        fmt(r.eventWritesAfter),
        fmt(r.events.exposedDuring),
        fmt(r.events.exposedAfter),
        fmt(r.events.exposedMissing),
        secs(r.events.exposedMaxDelayMs, 1),
      ]),
    ),
  );
  console.log('\nwrites by kind (POST/PUT/PATCH/DELETE as the API server counted them; ekspose: from its start until its Exposed Events were in; raw: its creates):\n');
  const kinds = (counts: Map<string, number>) => writesByKind(counts).map(([k, n]) => `${k} ${fmt(n)}`).join(', ');
  for (const [i, raw] of raws.entries()) {
    console.log(`  round ${i + 1} raw: ${kinds(raw.requests)}`);
    for (const r of results.filter((x) => x.round === i + 1)) console.log(`  round ${i + 1} ${r.label}: ${kinds(r.requestsToEvents)}`);
  }
}

/** Which process spent the CPU while the objects were made: per object created, for the raw client and each contender. */
function reportCpu(raws: RawBaselineResult[], results: PairedScenario[]): void {
  const rows: Array<{ who: string; objects: number; ms: number; cpu: CpuSnapshot }> = [];
  for (const [i, raw] of raws.entries()) {
    rows.push({ who: `raw #${i + 1}`, objects: raw.objects, ms: raw.ms, cpu: raw.cpu });
    for (const r of results.filter((x) => x.round === i + 1)) rows.push({ who: `${r.label} #${r.round}`, objects: r.objects, ms: r.convergedMs - r.leadingMs, cpu: r.machineCpu });
  }
  const labels = [...new Set(rows.flatMap((r) => [...r.cpu.keys()]))].filter((l) => l !== STEAL).sort();
  const total = (cpu: CpuSnapshot) => [...cpu].filter(([l]) => l !== STEAL).reduce((a, [, b]) => a + b, 0);
  console.log('\nCPU by process while the objects were made (raw: first create to last arrival; contenders: leading to all present), ms per object created, and the share of 2 cores used:\n');
  console.log(
    table(
      ['who #round', ...labels, 'all', 'cores busy', 'cores stolen by the host'],
      rows.map((r) => [
        r.who,
        ...labels.map((l) => (r.cpu.has(l) ? fmt((r.cpu.get(l)! * 1000) / r.objects, 2) : '-')),
        fmt((total(r.cpu) * 1000) / r.objects, 2),
        fmt(total(r.cpu) / (r.ms / 1000), 2),
        fmt((r.cpu.get(STEAL) ?? 0) / (r.ms / 1000), 2),
      ]),
    ),
  );
}
