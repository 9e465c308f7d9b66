// Where a controller's CPU went: the self time of a V8 CPU profile (from
// `npm run bench -- convergence --cpu-prof=DIR`), by function, heaviest first.
//   node tools/scripts/run-ts.mjs tools/bench/profile-summary.ts DIR/<name>.cpuprofile [--top 30]
// (the option takes its value after =, as every non-numeric bench option does)
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.ts <file.cpuprofile> [--top N]');
  process.exit(2);
}
const top = Number(rest[rest.indexOf('--top') + 1] ?? 30) || 30;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const totals = new Map<string, number>();
let all = 0;
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  const key = `${frame.functionName || '(anonymous)'}  ${frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
  totals.set(key, (totals.get(key) ?? 0) + us);
  all += us;
}
console.log(`${file}: ${(all / 1e6).toFixed(2)} s sampled`);
for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((us / all) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
}
