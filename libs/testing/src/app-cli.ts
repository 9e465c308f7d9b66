// Runs an app's main.ts the way its container does (plain env, no cluster
// needed for what is checked), for the apps' own command-line tests.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { workspaceRoot } from './binaries';
import { type CapturedRun, runCaptured } from './run-captured';

export type AppRun = CapturedRun;

/** `node --import tsx apps/<app>/src/main.ts ...args` with exactly `env` (plus PATH). */
export function runAppMain(app: string, args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<AppRun> {
  return runCaptured(process.execPath, ['--import', 'tsx', join(workspaceRoot(), 'apps', app, 'src', 'main.ts'), ...args], {
    cwd: workspaceRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/nonexistent', ...env },
    timeoutMs,
  });
}

/**
 * The command-line contract every controller process keeps, as node:test
 * cases: each app's main.test.ts calls this with its name and every env var
 * it reads (from the app's own settings, so that this harness depends on no lib).
 */
export function describeAppCommandLine(APP: string, envVars: readonly string[]): void {
  describe(`${APP} command line`, () => {
    it('--help exits 0 and lists every setting with its default', async () => {
      const run = await runAppMain(APP, ['--help']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^${APP}: `));
      assert.ok(envVars.length > 10, 'the app reads its settings from the environment');
      for (const name of envVars) assert.match(run.stdout, new RegExp(`  --[a-z-]+, ${name}  \\(default: `), `${name} and its flag`);
      for (const flag of ['--kubeconfig', '--leader-elect', '--metrics-bind-address', '--health-probe-bind-address']) assert.ok(run.stdout.includes(`  ${flag}`), flag);
    });

    it('a flag wins over its environment variable, and a bad one is named as typed', async () => {
      const run = await runAppMain(APP, ['--kubeconfig', '/nonexistent/from-flag'], { KUBECONFIG: '/nonexistent/from-env' });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /cannot load the kubeconfig \(KUBECONFIG=\/nonexistent\/from-flag\)/);
      const bad = await runAppMain(APP, ['--workers=zero'], { EKSPOSE_WORKERS: '2' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--workers=zero: expected an integer/);
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
}
