import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LEADER_ELECTION_DEFAULTS } from '../lease/leader-election';
import { PROCESS_SETTINGS_HELP, processSettings } from './process-settings';

describe('processSettings', () => {
  it('reads only the process settings: a Deployment-side var is not its business', () => {
    const r = processSettings.load({ EKSPOSE_DOMAIN: 'Not A Domain', EKSPOSE_WORKERS: '2' }, { hostname: 'h', pid: 1 });
    assert.ok(r.ok);
    assert.equal(r.settings.workers, 2);
    assert.equal(r.settings.identity, 'h-1');
    assert.equal('domain' in r.settings, false);
  });

  it('the elector defaults are the lease settings defaults: one number each', () => {
    const r = processSettings.load({});
    assert.ok(r.ok);
    assert.deepEqual(LEADER_ELECTION_DEFAULTS, {
      leaseDurationMs: r.settings.leaseDurationSeconds * 1000,
      renewDeadlineMs: r.settings.leaseRenewDeadlineSeconds * 1000,
      retryPeriodMs: r.settings.leaseRetryPeriodSeconds * 1000,
    });
  });

  it('every var it reads has help', () => {
    const r = processSettings.load({ NATS_URL: 'http://x' });
    assert.ok(!r.ok);
    assert.match(r.problems[0]!, /^NATS_URL="http:\/\/x": expected one or more nats:\/\//);
    assert.ok(PROCESS_SETTINGS_HELP.some((h) => h.env === 'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS'));
  });
});
