import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
// The settings as an app reads them: libs/labels' Deployment-side group and
// libs/k8s' process group combined (settings.ts). Each group's rules are tested
// through the combination, which is what a user meets.
import { flagOf, formatSettingsHelp, redactUrlCredentials, shouldWatchNamespace } from '@ekspose/labels';
import { natsServers, redactSettings } from '@ekspose/k8s';
import { type Settings, SETTINGS, SETTINGS_ENV_VARS, loadSettings } from './settings';

const SETTINGS_HELP = SETTINGS.help;

function load(env: Record<string, string | undefined>, defaults = { hostname: 'node-a', pid: 42 }): Settings {
  const result = loadSettings(env, defaults);
  if (!result.ok) assert.fail(`unexpected problems:\n${result.problems.join('\n')}`);
  return result.settings;
}

function problemsOf(env: Record<string, string | undefined>): string[] {
  const result = loadSettings(env, { hostname: 'node-a', pid: 42 });
  if (result.ok) assert.fail(`expected problems, got ${JSON.stringify(result.settings)}`);
  return result.problems;
}

describe('loadSettings: defaults', () => {
  it('gives every default from an empty env', () => {
    assert.deepEqual(load({}), {
      domain: 'ekspose.local',
      hostTemplate: '{name}.{namespace}.{domain}',
      routeKind: 'ingress',
      watchNamespaces: [],
      skipNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'ekspose'],
      natsUrl: 'nats://127.0.0.1:4222',
      natsStreamReplicas: 1,
      workers: 4,
      logLevel: 'info',
      podNamespace: 'ekspose',
      identity: 'node-a-42',
      metricsPort: 8080,
      healthPort: 8081,
      bindAddress: '0.0.0.0',
      metricsSecure: true,
      resyncSeconds: 600,
      informerFailureToleranceSeconds: 120,
      leaderElection: true,
      leaseDurationSeconds: 15,
      leaseRenewDeadlineSeconds: 10,
      leaseRetryPeriodSeconds: 2,
      shards: 1,
    } satisfies Settings);
  });

  it('treats an empty value as unset', () => {
    assert.deepEqual(load({ EKSPOSE_WORKERS: '', EKSPOSE_DOMAIN: '', KUBECONFIG: '', EKSPOSE_INGRESS_CLASS: '' }), load({}));
  });

  it('ignores env vars it does not know', () => {
    assert.deepEqual(load({ PATH: '/usr/bin', HOME: '/root' }), load({}));
  });

  it('identity: POD_NAME, else hostname-pid, else ekspose-pid', () => {
    assert.equal(load({ POD_NAME: 'deployment-controller-7d9f-abcde' }).identity, 'deployment-controller-7d9f-abcde');
    assert.equal(load({}, { hostname: 'box', pid: 7 }).identity, 'box-7');
    assert.equal(load({}, { pid: 7 } as { hostname: string; pid: number }).identity, 'ekspose-7');
  });
});

describe('loadSettings: every setting read', () => {
  it('reads each env var', () => {
    const settings = load({
      EKSPOSE_DOMAIN: 'apps.example.com',
      EKSPOSE_HOST_TEMPLATE: '{name}.abhilash.com',
      EKSPOSE_INGRESS_CLASS: 'nginx',
      EKSPOSE_TLS_SECRET: 'wildcard-tls',
      EKSPOSE_WATCH_NAMESPACES: 'shop, blog,shop,',
      EKSPOSE_SKIP_NAMESPACES: 'legacy',
      NATS_URL: 'nats://a:4222, tls://user:secret@b:4222',
      EKSPOSE_WORKERS: '64',
      LOG_LEVEL: 'DEBUG',
      KUBECONFIG: '/tmp/a config:/tmp/b',
      POD_NAMESPACE: 'ops',
      POD_NAME: 'pod-1',
      EKSPOSE_METRICS_PORT: '0',
      EKSPOSE_HEALTH_PORT: '0',
      EKSPOSE_BIND_ADDRESS: '::',
      EKSPOSE_RESYNC_SECONDS: '1',
      EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS: '5',
      EKSPOSE_LEADER_ELECT: 'false',
      EKSPOSE_LEASE_DURATION_SECONDS: '3',
      EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '2',
      EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '0.5',
      NATS_USER: 'service-controller',
      NATS_PASSWORD: 'pw',
      NATS_STREAM_REPLICAS: '3',
      EKSPOSE_METRICS_SECURE: 'false',
      EKSPOSE_METRICS_CERT_DIR: '/certs',
      EKSPOSE_ROUTE_KIND: 'HTTPRoute',
      EKSPOSE_GATEWAY: 'infra/public/https',
    });
    assert.deepEqual(settings, {
      domain: 'apps.example.com',
      hostTemplate: '{name}.abhilash.com',
      routeKind: 'httproute',
      gateway: { namespace: 'infra', name: 'public', sectionName: 'https' },
      ingressClass: 'nginx',
      tlsSecret: 'wildcard-tls',
      watchNamespaces: ['shop', 'blog'],
      skipNamespaces: ['legacy'],
      natsUrl: 'nats://a:4222,tls://user:secret@b:4222',
      natsUser: 'service-controller',
      natsPassword: 'pw',
      natsStreamReplicas: 3,
      workers: 64,
      logLevel: 'debug',
      podNamespace: 'ops',
      identity: 'pod-1',
      metricsPort: 0,
      healthPort: 0,
      bindAddress: '::',
      metricsSecure: false,
      metricsCertDir: '/certs',
      resyncSeconds: 1,
      informerFailureToleranceSeconds: 5,
      leaderElection: false,
      leaseDurationSeconds: 3,
      leaseRenewDeadlineSeconds: 2,
      leaseRetryPeriodSeconds: 0.5,
      shards: 1,
    } satisfies Settings);
  });

  it('EKSPOSE_ROUTE_KIND=httproute needs EKSPOSE_GATEWAY, and a bad Gateway reference is named', () => {
    const missing = loadSettings({ EKSPOSE_ROUTE_KIND: 'httproute' });
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.problems.join('\n'), /EKSPOSE_ROUTE_KIND=httproute needs EKSPOSE_GATEWAY/);
    const bad = loadSettings({ EKSPOSE_GATEWAY: 'public' });
    assert.match(bad.ok ? '' : bad.problems.join('\n'), /EKSPOSE_GATEWAY="public": must be <namespace>\/<name>/);
    assert.equal(loadSettings({ EKSPOSE_ROUTE_KIND: 'gateway' }).ok, false);
    assert.deepEqual(load({ EKSPOSE_GATEWAY: 'infra/public' }).gateway, { namespace: 'infra', name: 'public' });
    assert.equal(load({}).routeKind, 'ingress');
  });

  it('NATS_USER and NATS_PASSWORD go together, and the password is never shown', () => {
    for (const env of [{ NATS_USER: 'u' }, { NATS_PASSWORD: 'p' }]) {
      const r = loadSettings(env);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.problems.join('\n'), /NATS_USER and NATS_PASSWORD go together/);
      assert.doesNotMatch(r.ok ? '' : r.problems.join('\n'), /="p"/);
    }
    assert.equal(redactSettings(load({ NATS_USER: 'u', NATS_PASSWORD: 's3cret' })).natsPassword, '***');
    assert.equal(loadSettings({ NATS_STREAM_REPLICAS: '6' }).ok, false);
  });

  it('EKSPOSE_LEADER_ELECT takes true/false/1/0', () => {
    assert.equal(load({ EKSPOSE_LEADER_ELECT: '1' }).leaderElection, true);
    assert.equal(load({ EKSPOSE_LEADER_ELECT: '0' }).leaderElection, false);
    assert.equal(load({ EKSPOSE_LEADER_ELECT: 'TRUE' }).leaderElection, true);
  });
});

describe('loadSettings: namespaces', () => {
  it('the default skip list includes POD_NAMESPACE', () => {
    assert.deepEqual(load({ POD_NAMESPACE: 'platform' }).skipNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'platform']);
  });

  it('an explicit skip list is used as given, "" skipping none', () => {
    assert.deepEqual(load({ EKSPOSE_SKIP_NAMESPACES: 'a,b', POD_NAMESPACE: 'platform' }).skipNamespaces, ['a', 'b']);
    assert.deepEqual(load({ EKSPOSE_SKIP_NAMESPACES: '' }).skipNamespaces, []);
  });

  it('a namespace named in the watch list is not skipped by default', () => {
    const settings = load({ EKSPOSE_WATCH_NAMESPACES: 'kube-system,shop' });
    assert.deepEqual(settings.skipNamespaces, ['kube-public', 'kube-node-lease', 'ekspose']);
    assert.equal(shouldWatchNamespace('kube-system', settings), true);
  });

  it('a namespace both watched and explicitly skipped is a problem', () => {
    assert.deepEqual(problemsOf({ EKSPOSE_WATCH_NAMESPACES: 'a,b', EKSPOSE_SKIP_NAMESPACES: 'b,c' }), [
      'EKSPOSE_SKIP_NAMESPACES="b,c": also in EKSPOSE_WATCH_NAMESPACES: b; a namespace cannot be both watched and skipped',
    ]);
  });

  it('shouldWatchNamespace: all but the skipped ones by default', () => {
    const settings = load({});
    assert.equal(shouldWatchNamespace('default', settings), true);
    assert.equal(shouldWatchNamespace('kube-system', settings), false);
    assert.equal(shouldWatchNamespace('ekspose', settings), false);
  });

  it('shouldWatchNamespace: only the watched ones when a watch list is set', () => {
    const settings = load({ EKSPOSE_WATCH_NAMESPACES: 'shop' });
    assert.equal(shouldWatchNamespace('shop', settings), true);
    assert.equal(shouldWatchNamespace('default', settings), false);
  });
});

describe('loadSettings: problems', () => {
  it('names the env var, the value and why', () => {
    assert.deepEqual(problemsOf({ EKSPOSE_WORKERS: 'zero' }), ['EKSPOSE_WORKERS="zero": expected an integer from 1 to 64']);
  });

  it('reports every invalid env var at once', () => {
    const env = {
      EKSPOSE_DOMAIN: 'Bad_Domain',
      EKSPOSE_HOST_TEMPLATE: '{name}.{cluster}.example.com',
      EKSPOSE_INGRESS_CLASS: 'Nginx',
      EKSPOSE_TLS_SECRET: 'tls_secret',
      EKSPOSE_WATCH_NAMESPACES: 'ok,Not-Ok',
      EKSPOSE_SKIP_NAMESPACES: 'a_b',
      NATS_URL: 'http://nats:4222',
      EKSPOSE_WORKERS: 'zero',
      LOG_LEVEL: 'verbose',
      POD_NAMESPACE: 'Ops',
      EKSPOSE_METRICS_PORT: '70000',
      EKSPOSE_HEALTH_PORT: '-1',
      EKSPOSE_BIND_ADDRESS: 'not an address',
      EKSPOSE_RESYNC_SECONDS: '0',
      EKSPOSE_LEADER_ELECT: 'maybe',
      EKSPOSE_LEASE_DURATION_SECONDS: '0',
      EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: 'ten',
      EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '-1',
      EKSPOSE_SHARDS: '0',
    };
    const problems = problemsOf(env);
    const named = problems.map((p) => p.slice(0, p.indexOf('=')));
    assert.deepEqual(named.sort(), Object.keys(env).sort());
    for (const [key, value] of Object.entries(env)) {
      assert.ok(problems.some((p) => p.startsWith(`${key}=${JSON.stringify(value)}: `)), key);
    }
    assert.ok(problems.some((p) => p === 'LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent'));
    assert.ok(problems.some((p) => p.startsWith('EKSPOSE_HOST_TEMPLATE="{name}.{cluster}.example.com": unknown placeholder {cluster}')));
    assert.ok(problems.some((p) => p.includes('not valid: "Not-Ok"')));
  });

  it('host template: unknown placeholders, stray braces, no {name}, invalid hosts', () => {
    assert.match(problemsOf({ EKSPOSE_HOST_TEMPLATE: '{Name}.x.com' })[0] ?? '', /unknown placeholder \{Name\}/);
    assert.match(problemsOf({ EKSPOSE_HOST_TEMPLATE: '{name.x.com' })[0] ?? '', /unmatched/);
    assert.match(problemsOf({ EKSPOSE_HOST_TEMPLATE: 'www.example.com' })[0] ?? '', /must contain \{name\}/);
    assert.match(problemsOf({ EKSPOSE_HOST_TEMPLATE: '{name}_{namespace}.example.com' })[0] ?? '', /invalid hosts such as "a_b.example.com"/);
    assert.match(problemsOf({ EKSPOSE_HOST_TEMPLATE: '{name}.Example.com' })[0] ?? '', /DNS-1123/);
  });

  it('host template is checked against the real domain', () => {
    const longPart = 'd'.repeat(63);
    assert.equal(loadSettings({ EKSPOSE_DOMAIN: `${longPart}.com` }).ok, true);
    assert.match(
      problemsOf({ EKSPOSE_DOMAIN: `${longPart}.com`, EKSPOSE_HOST_TEMPLATE: '{name}{domain}' })[0] ?? '',
      /^EKSPOSE_HOST_TEMPLATE="\{name\}\{domain\}": .*at most 63/,
    );
  });

  it('EKSPOSE_SHARDS: an integer from 1 to 256, 1 when unset', () => {
    assert.equal((loadSettings({}) as { ok: true; settings: { shards: number } }).settings.shards, 1);
    assert.equal((loadSettings({ EKSPOSE_SHARDS: '12' }) as { ok: true; settings: { shards: number } }).settings.shards, 12);
    for (const bad of ['0', '257', '1.5', '12abc', '0x10', '-3']) {
      assert.deepEqual(problemsOf({ EKSPOSE_SHARDS: bad }), [`EKSPOSE_SHARDS=${JSON.stringify(bad)}: expected an integer from 1 to 256`], bad);
    }
  });

  it('lease timings must be retry < renew deadline < duration', () => {
    assert.deepEqual(problemsOf({ EKSPOSE_LEASE_DURATION_SECONDS: '5' }), [
      'EKSPOSE_LEASE_DURATION_SECONDS="5": must be greater than EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS (10)',
    ]);
    assert.deepEqual(problemsOf({ EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '10' }), [
      'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS="10": must be less than EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS (10)',
    ]);
    assert.deepEqual(problemsOf({ EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '20' }), [
      'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS="20": must be less than EKSPOSE_LEASE_DURATION_SECONDS (15)',
    ]);
    assert.equal(
      load({ EKSPOSE_LEASE_DURATION_SECONDS: '2', EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '1.5', EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '0.2' })
        .leaseRenewDeadlineSeconds,
      1.5,
    );
  });

  it('the lease ordering is still checked when another setting is bad', () => {
    const problems = problemsOf({ EKSPOSE_WORKERS: '0', EKSPOSE_LEASE_DURATION_SECONDS: '5' });
    assert.equal(problems.length, 2);
    assert.match(problems[1] ?? '', /^EKSPOSE_LEASE_DURATION_SECONDS="5"/);
  });

  it('a bad lease value is reported once, without an ordering complaint about it', () => {
    assert.deepEqual(problemsOf({ EKSPOSE_LEASE_DURATION_SECONDS: 'x' }).length, 1);
  });

  it('metrics and health ports must differ unless 0', () => {
    assert.deepEqual(problemsOf({ EKSPOSE_HEALTH_PORT: '8080' }), [
      'EKSPOSE_HEALTH_PORT="8080": the metrics and health servers need different ports (or 0 for a free one)',
    ]);
    assert.equal(load({ EKSPOSE_METRICS_PORT: '0', EKSPOSE_HEALTH_PORT: '0' }).metricsPort, 0);
  });

  it('limits periods to what setTimeout can wait', () => {
    assert.match(problemsOf({ EKSPOSE_RESYNC_SECONDS: '3000000' })[0] ?? '', /^EKSPOSE_RESYNC_SECONDS="3000000": expected/);
  });

  it('does not print NATS credentials in a problem', () => {
    const [problem] = problemsOf({ NATS_URL: 'nats://user:hunter2@host:4222/path' });
    assert.ok(problem !== undefined && !problem.includes('hunter2'), problem);
    assert.match(problem, /^NATS_URL="nats:\/\/user:\*\*\*@host:4222\/path": /);
  });
});

describe('NATS helpers', () => {
  it('natsServers splits the list', () => {
    assert.deepEqual(natsServers('nats://a:4222,tls://b:4222'), ['nats://a:4222', 'tls://b:4222']);
  });
  it('redactUrlCredentials hides passwords and tokens', () => {
    assert.equal(redactUrlCredentials('nats://user:pw@h:4222'), 'nats://user:***@h:4222');
    assert.equal(redactUrlCredentials('nats://s3cr3t@h:4222'), 'nats://***@h:4222');
    assert.equal(redactUrlCredentials('nats://h:4222'), 'nats://h:4222');
  });
  it('redactSettings hides the NATS password only', () => {
    const settings = load({ NATS_URL: 'nats://u:pw@a:4222,nats://b:4222' });
    assert.equal(redactSettings(settings).natsUrl, 'nats://u:***@a:4222,nats://b:4222');
    assert.equal(settings.natsUrl, 'nats://u:pw@a:4222,nats://b:4222');
  });
});

describe('help', () => {
  it('SETTINGS_HELP covers exactly the env vars read', () => {
    assert.deepEqual(
      SETTINGS_HELP.map((h) => h.env),
      [...SETTINGS_ENV_VARS],
    );
  });

  it('formatSettingsHelp lists every env var with its default', () => {
    const text = formatSettingsHelp('deployment-controller', 'reconciles Services and Ingresses for Deployments', SETTINGS_HELP);
    assert.match(text, /^deployment-controller: reconciles Services/);
    for (const name of [
      'EKSPOSE_DOMAIN',
      'EKSPOSE_HOST_TEMPLATE',
      'EKSPOSE_INGRESS_CLASS',
      'EKSPOSE_TLS_SECRET',
      'EKSPOSE_WATCH_NAMESPACES',
      'EKSPOSE_SKIP_NAMESPACES',
      'NATS_URL',
      'EKSPOSE_WORKERS',
      'LOG_LEVEL',
      'KUBECONFIG',
      'POD_NAMESPACE',
      'POD_NAME',
      'EKSPOSE_METRICS_PORT',
      'EKSPOSE_HEALTH_PORT',
      'EKSPOSE_BIND_ADDRESS',
      'EKSPOSE_ROUTE_KIND',
      'EKSPOSE_GATEWAY',
      'EKSPOSE_METRICS_SECURE',
      'EKSPOSE_METRICS_CERT_DIR',
      'NATS_USER',
      'NATS_PASSWORD',
      'NATS_STREAM_REPLICAS',
      'EKSPOSE_RESYNC_SECONDS',
      'EKSPOSE_LEADER_ELECT',
      'EKSPOSE_LEASE_DURATION_SECONDS',
      'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS',
      'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS',
    ]) {
      const help = SETTINGS_HELP.find((h) => h.env === name);
      assert.ok(help, name);
      assert.ok(text.includes(`  ${flagOf(help)}, ${name}  (default: ${help.default})`), name);
    }
    assert.ok(text.includes('(default: ekspose.local)'));
    assert.ok(text.includes('(default: 4)'));
  });
});
