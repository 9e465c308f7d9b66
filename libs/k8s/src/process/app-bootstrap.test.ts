import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ExposeSettings, combineSettings, exposeSettings } from '@ekspose/labels';
import { type StartupInput, resolveStartup } from './app-bootstrap';
import { type ProcessSettings, processSettings } from './process-settings';

// The runtime's own settings combined with a product's, as an app does.
const settings = combineSettings(exposeSettings, processSettings);
const SETTINGS_ENV_VARS = settings.help.map((h) => h.env);

type AppSettings = ExposeSettings & ProcessSettings;

function input(overrides: Partial<StartupInput<AppSettings>> = {}): StartupInput<AppSettings> {
  return {
    settings,
    name: 'service-controller',
    summary: 'Puts back deleted Services.',
    version: '1.2.3',
    argv: [],
    env: {},
    hostname: 'node-a',
    pid: 42,
    ...overrides,
  };
}

describe('resolveStartup', () => {
  it('--help (or -h): the summary and every env var ekspose reads', () => {
    for (const flag of ['--help', '-h']) {
      const startup = resolveStartup(input({ argv: [flag] }));
      assert.equal(startup.kind, 'help');
      const text = (startup as { text: string }).text;
      assert.match(text, /^service-controller: Puts back deleted Services\./);
      assert.ok(SETTINGS_ENV_VARS.length > 10);
      for (const name of SETTINGS_ENV_VARS) assert.ok(text.includes(name), `--help lists ${name}`);
    }
  });

  it('--help wins over bad settings and other arguments', () => {
    const startup = resolveStartup(input({ argv: ['--bogus', '--help'], env: { EKSPOSE_WORKERS: 'zero' } }));
    assert.equal(startup.kind, 'help');
  });

  it('--version: the name and the version', () => {
    assert.deepEqual(resolveStartup(input({ argv: ['--version'] })), { kind: 'version', text: 'service-controller 1.2.3' });
  });

  it('an unknown argument is invalid, naming it and pointing at --help', () => {
    const startup = resolveStartup(input({ argv: ['--frobnicate', 'x'] }));
    assert.equal(startup.kind, 'invalid');
    const text = (startup as { text: string }).text;
    assert.match(text, /unknown argument "--frobnicate"/);
    assert.match(text, /service-controller --help/);
  });

  it('EKSPOSE_WORKERS=zero: invalid, naming EKSPOSE_WORKERS and its value', () => {
    const startup = resolveStartup(input({ env: { EKSPOSE_WORKERS: 'zero' } }));
    assert.equal(startup.kind, 'invalid');
    const text = (startup as { text: string }).text;
    assert.match(text, /invalid settings \(1\)/);
    assert.match(text, /EKSPOSE_WORKERS="zero"/);
  });

  it('every bad setting is listed, one per line', () => {
    const startup = resolveStartup(input({ env: { EKSPOSE_WORKERS: '0', LOG_LEVEL: 'loud' } }));
    assert.equal(startup.kind, 'invalid');
    const lines = (startup as { text: string }).text.split('\n').filter((l) => l.startsWith('  - '));
    assert.equal(lines.length, 2);
    assert.ok(lines.some((l) => l.includes('EKSPOSE_WORKERS')));
    assert.ok(lines.some((l) => l.includes('LOG_LEVEL')));
  });

  it('no arguments (or just --) and good settings: run, with the identity from hostname and pid', () => {
    for (const argv of [[], ['--']]) {
      const startup = resolveStartup(input({ argv, env: { EKSPOSE_WORKERS: '8', EKSPOSE_DOMAIN: 'example.com' } }));
      assert.equal(startup.kind, 'run');
      const { settings } = startup as { settings: { workers: number; domain: string; identity: string } };
      assert.equal(settings.workers, 8);
      assert.equal(settings.domain, 'example.com');
      assert.equal(settings.identity, 'node-a-42');
    }
  });

  it('every setting is also a flag, and a flag wins over the environment', () => {
    const startup = resolveStartup(
      input({ argv: ['--workers=8', '--domain', 'flag.example', '--leader-elect=false', '--kubeconfig', '/k/config'], env: { EKSPOSE_WORKERS: '2', EKSPOSE_DOMAIN: 'env.example' } }),
    );
    assert.equal(startup.kind, 'run');
    const { settings, env } = startup as { settings: AppSettings; env: Record<string, string> };
    assert.equal(settings.workers, 8);
    assert.equal(settings.domain, 'flag.example');
    assert.equal(settings.leaderElection, false);
    assert.equal(env['KUBECONFIG'], '/k/config', 'passed on to the environment the client loads from');
  });

  it('a true/false flag alone means true; before another flag it takes no value', () => {
    const startup = resolveStartup(input({ argv: ['--leader-elect', '--workers', '3'], env: { EKSPOSE_LEADER_ELECT: 'false' } }));
    const { settings } = startup as { settings: AppSettings };
    assert.equal(settings.leaderElection, true);
    assert.equal(settings.workers, 3);
  });

  it("kubebuilder's bind-address flags set the port, and the bind address when a host is given", () => {
    const startup = resolveStartup(input({ argv: ['--metrics-bind-address=:8443', '--health-probe-bind-address', '[::1]:9440'] }));
    const { settings } = startup as { settings: AppSettings };
    assert.equal(settings.metricsPort, 8443);
    assert.equal(settings.healthPort, 9440);
    assert.equal(settings.bindAddress, '::1');
    const clash = resolveStartup(input({ argv: ['--metrics-bind-address=10.0.0.1:8443', '--health-probe-bind-address=10.0.0.2:8081'] }));
    assert.equal(clash.kind, 'invalid');
    assert.match((clash as { text: string }).text, /--health-probe-bind-address=10.0.0.2:8081 sets EKSPOSE_BIND_ADDRESS to "10.0.0.2", but --metrics-bind-address=10.0.0.1:8443 already set it/);
    const bad = resolveStartup(input({ argv: ['--metrics-bind-address=8443'] }));
    assert.match((bad as { text: string }).text, /--metrics-bind-address="8443": expected \[host\]:port/);
  });

  it('a bad flag value is named as typed; a flag without its value is refused', () => {
    const bad = resolveStartup(input({ argv: ['--workers=zero'] }));
    assert.equal(bad.kind, 'invalid');
    assert.match((bad as { text: string }).text, / {2}- --workers=zero: expected an integer from 1 to 64/);
    const missing = resolveStartup(input({ argv: ['--workers'] }));
    assert.match((missing as { text: string }).text, /--workers needs a value/);
  });

  it('--help lists every setting as its flag and its variable', () => {
    const text = (resolveStartup(input({ argv: ['--help'] })) as { text: string }).text;
    assert.ok(text.includes('  --kubeconfig, KUBECONFIG  (default: '));
    assert.ok(text.includes('  --leader-elect, EKSPOSE_LEADER_ELECT  (default: true)'));
    assert.ok(text.includes('  --metrics-bind-address=[host]:port'));
  });
});
