// The command-line contract of the ingress-controller process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SETTINGS_ENV_VARS } from '@ekspose/labels';
import { runAppMain } from '@ekspose/testing';

const APP = 'ingress-controller';

describe(`${APP} command line`, () => {
  it('--help exits 0 and lists every setting with its default', async () => {
    const run = await runAppMain(APP, ['--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^${APP}: `));
    for (const name of SETTINGS_ENV_VARS) assert.match(run.stdout, new RegExp(`\\b${name}\\b.*\\(default: `), name);
  });

  it('--version exits 0 and names the app', async () => {
    const run = await runAppMain(APP, ['--version']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout.trim(), new RegExp(`^${APP} \\S+$`));
  });

  it('invalid settings exit 1 naming every bad one, before touching any cluster', async () => {
    const run = await runAppMain(APP, [], { EKSPOSE_WORKERS: 'zero', EKSPOSE_DOMAIN: 'Not A Domain' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /EKSPOSE_WORKERS="zero"/);
    assert.match(run.stderr, /EKSPOSE_DOMAIN="Not A Domain"/);
  });

  it('an unknown argument exits 1', async () => {
    const run = await runAppMain(APP, ['--frobnicate']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /unknown argument.*--frobnicate/);
  });

  it('no reachable kubeconfig exits 1 with the reason', async () => {
    const run = await runAppMain(APP, [], { KUBECONFIG: '/nonexistent/kubeconfig' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`^${APP}: cannot load the kubeconfig \\(KUBECONFIG=/nonexistent/kubeconfig\\): .*ENOENT`, 'm'));
  });
});
