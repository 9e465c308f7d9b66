#!/usr/bin/env node
// Runs every *.test.ts below the given folders with node:test through tsx.
// The file list is built here (not left to `node --test`'s globs) so that a folder
// without tests is an error and the order is the same on every machine.
//   node tools/scripts/run-tests.mjs libs/labels [more folders] [-- extra node --test flags]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const folders = split === -1 ? argv : argv.slice(0, split);
const extra = split === -1 ? [] : argv.slice(split + 1);
const suffix = process.env.EKSPOSE_TEST_SUFFIX ?? '.test.ts';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out;
}

const files = folders.flatMap((f) => collect(f, [])).sort();
if (files.length === 0) {
  console.error(`run-tests: no ${suffix} files under ${folders.join(', ')}`);
  process.exit(1);
}
console.log(`run-tests: ${files.length} file(s): ${files.map((f) => relative(process.cwd(), f)).join(' ')}`);
// The spec reporter for people, and TAP into a file for the one closing line below.
const tapDir = mkdtempSync(join(tmpdir(), 'ekspose-run-tests-'));
const tapFile = join(tapDir, 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...extra, ...files,
  ],
  { stdio: 'inherit' },
);
let summary = '';
try {
  const tap = readFileSync(tapFile, 'utf8');
  const count = (name) => Number(tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  summary = `${count('tests')} tests: ${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped, ${count('cancelled')} cancelled`;
} catch {
  summary = 'no results recorded';
}
rmSync(tapDir, { recursive: true, force: true });
console.log(`run-tests: ${folders.join(', ')} (${suffix}): ${summary}`);
process.exit(result.status ?? 1);
