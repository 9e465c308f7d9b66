import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { type SettingsGroup, combineSettings, envVar, formatSettingsHelp, integer, ok, parseGroup } from './env-settings';
import { exposeSettings } from './settings';

const portGroup: SettingsGroup<{ port: number; url: string }> = {
  help: [
    { env: 'PORT', default: '80', description: 'a port' },
    { env: 'URL', default: 'nats://x', description: 'a url', secretUrl: true },
  ],
  load(env) {
    const schema = z.object({ PORT: envVar(integer(1, 65535), 80), URL: envVar((v) => (v.startsWith('nats://') ? ok(v) : { ok: false as const, reason: 'expected nats://' }), 'nats://x') });
    const r = parseGroup(schema, env, this.help);
    return r.ok ? { ok: true, settings: { port: r.settings.PORT, url: r.settings.URL } } : r;
  },
};

describe('settings groups', () => {
  it('a problem names the var, its value (credentials hidden) and why', () => {
    const r = portGroup.load({ PORT: '0', URL: 'tls://user:secret@host' });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, ['PORT="0": expected an integer from 1 to 65535', 'URL="tls://user:***@host": expected nats://']);
  });

  it('combined groups merge their settings, and list every problem of both at once', () => {
    const both = combineSettings(exposeSettings, portGroup);
    const good = both.load({ PORT: '8080', EKSPOSE_DOMAIN: 'example.com' });
    assert.ok(good.ok);
    assert.equal(good.settings.port, 8080);
    assert.equal(good.settings.domain, 'example.com');
    const bad = both.load({ PORT: 'x', EKSPOSE_DOMAIN: 'Not A Domain' });
    assert.ok(!bad.ok);
    assert.equal(bad.problems.length, 2);
    assert.deepEqual(both.help.map((h) => h.env).slice(-2), ['PORT', 'URL']);
  });

  it('the Deployment-side group reads POD_NAMESPACE only for its default skip list', () => {
    const r = exposeSettings.load({ POD_NAMESPACE: 'platform', EKSPOSE_WORKERS: 'not mine to check' });
    assert.ok(r.ok);
    assert.deepEqual(r.settings.skipNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'platform']);
  });

  it('--help lists every var with its default, and which ones take "" as a value', () => {
    const text = formatSettingsHelp('x-controller', 'does x', combineSettings(exposeSettings, portGroup).help);
    assert.match(text, /^x-controller: does x/);
    assert.ok(text.includes('  --port, PORT  (default: 80)'));
    assert.ok(text.includes('except EKSPOSE_SKIP_NAMESPACES'));
  });
});
