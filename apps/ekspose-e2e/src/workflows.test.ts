// The GitHub workflows (.github/workflows) as far as they can be checked here: actionlint
// (built from its Go module) finds nothing; every third-party action is pinned by a commit;
// the release builds both architectures, pushes and signs the chart as an OCI artifact; and
// its version check (tools/release/check-versions.sh) fails on a tag that package.json or
// Chart.yaml disagree with.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureActionlint, runCaptured, workspaceRoot } from '@ekspose/testing';

const ROOT = workspaceRoot();
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const text = (f: string) => readFileSync(join(WORKFLOWS, f), 'utf8');

describe('.github/workflows', () => {
  it('actionlint finds nothing in any workflow (shellcheck-free: the runner has it, this machine may not)', async () => {
    const bin = await ensureActionlint();
    const run = await runCaptured(join(bin, 'actionlint'), ['-no-color', '-shellcheck=', '-pyflakes=', ...files.map((f) => join(WORKFLOWS, f))], { cwd: ROOT, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `actionlint:\n${run.stdout}${run.stderr}`);
    // It does check: a workflow with a mistake fails.
    const bad = join(mkdtempSync(join(tmpdir(), 'ekspose-actionlint-')), 'bad.yml');
    writeFileSync(bad, 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n');
    const caught = await runCaptured(join(bin, 'actionlint'), ['-no-color', '-shellcheck=', '-pyflakes=', bad], { timeoutMs: 60_000 });
    assert.notEqual(caught.code, 0);
    assert.match(caught.stdout, /nope/);
  });

  it('every third-party action is pinned by a full commit, the tag it was in a comment', () => {
    const loose: string[] = [];
    let pinned = 0;
    for (const f of files) {
      for (const [line, ref] of [...text(f).matchAll(/^\s*-?\s*uses:\s*([^\s#]+)(.*)$/gm)].map((m) => [m[0], m[1]!] as const)) {
        if (ref.startsWith('./')) continue;
        if (/@[0-9a-f]{40}\s+# v\d/.test(line)) pinned++;
        else loose.push(`${f}: ${line.trim()}`);
      }
    }
    assert.deepEqual(loose, []);
    assert.ok(pinned >= 10, `${pinned} pinned uses`);
  });

  it('the release builds amd64 and arm64, pushes the chart to an OCI registry and signs it, and checks the versions first', () => {
    const release = text('release.yml');
    assert.match(release, /platforms: linux\/amd64,linux\/arm64/);
    assert.match(release, /helm push "dist\/chart\/ekspose-\$\{VERSION\}\.tgz" "\$\{CHART_REPO\}"/);
    assert.match(release, /cosign sign --yes "\$ref"/);
    assert.match(release, /CHART_REPO: oci:\/\//);
    assert.equal((release.match(/bash tools\/release\/check-versions\.sh/g) ?? []).length, 2, 'both jobs check the tag');
  });
});

describe('tools/release/check-versions.sh', () => {
  /** A copy of the files the script reads, with Chart.yaml's appVersion set to `appVersion`. */
  function tree(appVersion: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'ekspose-release-'));
    mkdirSync(join(dir, 'tools', 'release'), { recursive: true });
    mkdirSync(join(dir, 'charts', 'ekspose'), { recursive: true });
    cpSync(join(ROOT, 'tools', 'release', 'check-versions.sh'), join(dir, 'tools', 'release', 'check-versions.sh'));
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    const chart = readFileSync(join(ROOT, 'charts', 'ekspose', 'Chart.yaml'), 'utf8').replace(/^appVersion: .*$/m, `appVersion: "${appVersion}"`);
    writeFileSync(join(dir, 'charts', 'ekspose', 'Chart.yaml'), chart);
    return join(dir, 'tools', 'release', 'check-versions.sh');
  }
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const check = (script: string, tag: string) => runCaptured('bash', [script, tag], { timeoutMs: 30_000 });

  it("passes for the tag of this checkout's version and prints it", async () => {
    const run = await check(join(ROOT, 'tools', 'release', 'check-versions.sh'), `v${version}`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });

  it('fails on another tag, naming each file that disagrees, and on a Chart.yaml appVersion that lags', async () => {
    const other = await check(join(ROOT, 'tools', 'release', 'check-versions.sh'), 'v99.0.0');
    assert.equal(other.code, 1);
    for (const what of ['package.json version', 'Chart.yaml version', 'Chart.yaml appVersion']) assert.match(other.stderr, new RegExp(`tag v99\\.0\\.0 but ${what} is '${version.replace(/\./g, '\\.')}'`));
    const lagging = await check(tree('0.0.9'), `v${version}`);
    assert.equal(lagging.code, 1);
    assert.match(lagging.stderr, /Chart\.yaml appVersion is '0\.0\.9'/);
    assert.doesNotMatch(lagging.stderr, /package\.json/);
  });
});
