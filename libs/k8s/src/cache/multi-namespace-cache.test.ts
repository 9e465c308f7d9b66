import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { ResourceSource } from '../api/kube-client';
import type { ListParams, WatchEventType } from '../api/list-watch';
import { informerFor } from './informer-factory';
import { MultiNamespaceCache } from './multi-namespace-cache';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const obj = (namespace: string, name: string): Obj => ({ metadata: { name, namespace, resourceVersion: '1' } });

/** One namespace's list and watch as the API server answers them: its objects, or a 403 where no Role grants it. */
function fakeSource(objects: Obj[], forbidden: string[] = []) {
  const asked: string[] = [];
  const watches = new Map<string, (type: WatchEventType, object: unknown) => void>();
  const scoped = (namespace?: string): ResourceSource<Obj> => ({
    resource: 'deployments',
    list: async (_p: ListParams) => {
      asked.push(namespace ?? '*');
      if (namespace !== undefined && forbidden.includes(namespace)) {
        throw Object.assign(new Error(`deployments.apps is forbidden: cannot list resource "deployments" in the namespace "${namespace}"`), { code: 403 });
      }
      return { items: objects.filter((o) => namespace === undefined || o.metadata.namespace === namespace), metadata: { resourceVersion: '10' } };
    },
    watch: async (_params, onEvent) => {
      watches.set(namespace ?? '*', onEvent);
      return { abort: () => watches.delete(namespace ?? '*') };
    },
    inNamespace: (ns) => scoped(ns),
  });
  return { source: scoped(), asked, watches };
}

const options = { log: pino({ level: 'silent' }), metrics: { informerRestarted: () => undefined }, transform: (o: Obj) => o };
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('informerFor with namespaces (MultiNamespaceCache)', () => {
  it('lists and watches each namespace on its own, and reads and lists only those', async () => {
    const api = fakeSource([obj('shop', 'web'), obj('blog', 'api'), obj('other', 'db')]);
    const cache = informerFor(api.source, { ...options, namespaces: ['shop', 'blog', 'shop'] });
    assert.ok(cache instanceof MultiNamespaceCache);
    cache.start();
    await cache.waitForSync();
    assert.deepEqual(api.asked.sort(), ['blog', 'shop'], 'one list per namespace, a namespace named twice listed once, never the whole cluster');
    assert.deepEqual([...api.watches.keys()].sort(), ['blog', 'shop']);
    assert.deepEqual(cache.list().map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort(), ['blog/api', 'shop/web']);
    assert.equal(cache.get('shop', 'web')?.metadata.name, 'web');
    assert.equal(cache.get('other', 'db'), undefined, 'a namespace not listed has nothing');
    assert.equal(cache.status().objects, 2);
    await cache.stop();
    assert.equal(api.watches.size, 0, 'stop ends every namespace watch');
  });

  it('without namespaces, one list and watch of every namespace', async () => {
    const api = fakeSource([obj('shop', 'web'), obj('other', 'db')]);
    const cache = informerFor(api.source, { ...options, namespaces: [] });
    assert.ok(!(cache instanceof MultiNamespaceCache));
    cache.start();
    await cache.waitForSync();
    assert.deepEqual(api.asked, ['*']);
    assert.equal(cache.list().length, 2);
    await cache.stop();
  });

  it('events of every namespace reach the handlers', async () => {
    const api = fakeSource([]);
    const cache = informerFor(api.source, { ...options, namespaces: ['shop', 'blog'] });
    const heard: string[] = [];
    cache.on('add', (o) => heard.push(`${o.metadata.namespace}/${o.metadata.name}`));
    cache.start();
    await cache.waitForSync();
    api.watches.get('blog')!('ADDED', { ...obj('blog', 'new'), metadata: { ...obj('blog', 'new').metadata, resourceVersion: '11' } });
    api.watches.get('shop')!('ADDED', { ...obj('shop', 'other'), metadata: { ...obj('shop', 'other').metadata, resourceVersion: '12' } });
    await flush();
    assert.deepEqual(heard.sort(), ['blog/new', 'shop/other']);
    assert.equal(cache.get('blog', 'new')?.metadata.name, 'new');
    await cache.stop();
  });

  it('a namespace it may not list keeps the whole unsynced, and its status names that namespace and the refusal', async () => {
    const api = fakeSource([obj('shop', 'web')], ['blog']);
    const cache = informerFor(api.source, { ...options, namespaces: ['shop', 'blog'] });
    cache.start();
    for (let i = 0; i < 20 && cache.status().lastError === undefined; i++) await flush();
    assert.equal(cache.hasSynced, false, 'not synced while one namespace cannot be listed');
    const status = cache.status();
    assert.equal(status.synced, false);
    assert.match(status.lastError ?? '', /^namespace blog: .*forbidden.*"blog"/);
    assert.equal(status.objects, 1, 'the namespace it may list is cached meanwhile');
    await cache.stop();
  });

  it('refuses an empty namespace list (the caller means every namespace: one informer)', () => {
    assert.throws(() => new MultiNamespaceCache('deployments', [], () => assert.fail('no part is made')), /at least one namespace/);
  });
});
