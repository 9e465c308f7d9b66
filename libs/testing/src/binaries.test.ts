import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_PLANE_BINARIES, ensureBinaries, helmTemplateArgs, planeKubernetesVersion, workspaceRoot } from './binaries';

const dir = mkdtempSync(join(tmpdir(), 'ekspose-bin-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureBinaries', () => {
  it('finds the workspace root from its own location', () => {
    assert.ok(existsSync(join(workspaceRoot(), 'tools', 'controlplane', 'build.sh')));
  });

  it('uses EKSPOSE_BIN_DIR as is, without building', async () => {
    const bin = join(dir, 'ready');
    mkdirSync(bin);
    for (const name of CONTROL_PLANE_BINARIES) {
      writeFileSync(join(bin, name), '#!/bin/sh\n');
      chmodSync(join(bin, name), 0o755);
    }
    // An empty PATH: running build.sh would fail, so success means it was not run.
    const lines: string[] = [];
    const found = await ensureBinaries({ env: { EKSPOSE_BIN_DIR: bin, PATH: '' }, log: (line) => lines.push(line) });
    assert.equal(found, bin);
    assert.deepEqual(lines, []);
  });

  it('rejects an EKSPOSE_BIN_DIR that lacks binaries, naming them', async () => {
    const bin = join(dir, 'partial');
    mkdirSync(bin);
    writeFileSync(join(bin, 'etcd'), '#!/bin/sh\n');
    chmodSync(join(bin, 'etcd'), 0o755);
    await assert.rejects(
      ensureBinaries({ env: { EKSPOSE_BIN_DIR: bin } }),
      /lacks executable kube-apiserver, kube-controller-manager, kubectl, nats-server/,
    );
  });

  it('passes on build.sh saying that Go is missing, in the error and through the log', async () => {
    // A PATH with only what build.sh needs before it looks for Go.
    const bin = join(dir, 'no-go');
    mkdirSync(bin);
    for (const tool of ['bash', 'dirname', 'sed']) {
      symlinkSync(execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
    }
    const lines: string[] = [];
    const error = await ensureBinaries({ env: { PATH: bin, HOME: dir }, log: (line) => lines.push(line) }).then(
      () => assert.fail('must reject without Go'),
      (e: Error) => e,
    );
    assert.match(error.message, /building the controlplane binaries failed/);
    assert.match(error.message, /Go is not installed/);
    assert.ok(lines.some((line) => line.includes('Go is not installed')), lines.join('\n'));
  });
});

describe('helmTemplateArgs', () => {
  it('gives helm template the plane\'s Kubernetes version, unless one is given, and leaves other commands alone', () => {
    const version = planeKubernetesVersion();
    assert.match(version, /^v1\.\d+\.\d+$/);
    assert.deepEqual(helmTemplateArgs(['template', 'x', 'chart']), ['template', 'x', 'chart', '--kube-version', version]);
    assert.deepEqual(helmTemplateArgs(['template', 'x', 'chart', '--kube-version', '1.26.0']), ['template', 'x', 'chart', '--kube-version', '1.26.0']);
    assert.deepEqual(helmTemplateArgs(['install', 'x', 'chart']), ['install', 'x', 'chart']);
  });
});
