import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ManualClock } from '../base/manual-clock';
import {
  INFORMER_ADD,
  INFORMER_DELETE,
  INFORMER_UPDATE,
  Informer,
  type InformerOptions,
  type KubeObjectLike,
  type ListResult,
  type WatchEventType,
  type WatchParams,
  diffList,
  jitteredBackoff,
  objectKey,
} from './informer';

interface Obj extends KubeObjectLike {
  metadata: { name: string; namespace: string; resourceVersion: string };
  data?: string;
}

const obj = (name: string, resourceVersion: string, data?: string): Obj => ({
  metadata: { name, namespace: 'ns', resourceVersion },
  ...(data ? { data } : {}),
});
const listOf = (resourceVersion: string, ...items: Obj[]): ListResult<Obj> => ({ items, metadata: { resourceVersion } });

/** Lets the promise chains the informer started settle. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

interface FakeWatch {
  params: WatchParams;
  aborted: boolean;
  push(type: WatchEventType, object: unknown): void;
  end(err?: unknown): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * A fake API: `list` answers from a queue of responses (the last one repeats),
 * `watch` records its parameters and hands the test a handle to push events and end it.
 */
function fakeApi(...responses: Array<ListResult<Obj> | Error | Deferred<ListResult<Obj>>>) {
  const lists: Array<{ labelSelector?: string }> = [];
  const watches: FakeWatch[] = [];
  const queue = [...responses];
  let watchFailure: Error | undefined;
  const api = {
    lists,
    watches,
    get watch(): FakeWatch {
      const w = watches.at(-1);
      assert.ok(w, 'no watch started');
      return w;
    },
    /** Replaces the answers of the next lists. */
    respond(...more: Array<ListResult<Obj> | Error | Deferred<ListResult<Obj>>>) {
      queue.splice(0, queue.length, ...more);
    },
    failNextWatch(err: Error) {
      watchFailure = err;
    },
    listFn: (params: { labelSelector?: string }): Promise<ListResult<Obj>> => {
      lists.push(params);
      const next = queue.length > 1 ? queue.shift() : queue[0];
      if (!next) return Promise.resolve(listOf('1'));
      if (next instanceof Error) return Promise.reject(next);
      if ('promise' in next) return next.promise;
      return Promise.resolve(structuredClone(next));
    },
    watchFn: async (
      params: WatchParams,
      onEvent: (type: WatchEventType, object: unknown) => void,
      onDone: (err: unknown) => void,
    ) => {
      if (watchFailure) {
        const err = watchFailure;
        watchFailure = undefined;
        throw err;
      }
      const w: FakeWatch = {
        params: { ...params },
        aborted: false,
        push: (type, object) => onEvent(type, object),
        end: (err) => onDone(err ?? null),
      };
      watches.push(w);
      return { abort: () => void (w.aborted = true) };
    },
  };
  return api;
}

type Api = ReturnType<typeof fakeApi>;

function setup(api: Api, opts: Partial<InformerOptions<Obj>> = {}) {
  const clock = new ManualClock({ start: 1_000_000 });
  const restarts: string[] = [];
  const informer = new Informer<Obj>({
    resource: 'things',
    list: api.listFn,
    watch: api.watchFn,
    log: pino({ level: 'silent' }),
    clock,
    watchTimeoutSeconds: 60,
    silentAfterMs: 10_000,
    backoffBaseMs: 100,
    backoffMaxMs: 1_000,
    random: () => 1,
    onRestart: (reason) => void restarts.push(reason),
    ...opts,
  });
  const events: string[] = [];
  informer.on(INFORMER_ADD, (o) => void events.push(`add ${objectKey(o)}@${o.metadata.resourceVersion}`));
  informer.on(INFORMER_UPDATE, (o, old) =>
    void events.push(`update ${objectKey(o)}@${old?.metadata.resourceVersion}->${o.metadata.resourceVersion}`),
  );
  informer.on(INFORMER_DELETE, (o) => void events.push(`delete ${objectKey(o)}@${o.metadata.resourceVersion}`));
  return { clock, informer, events, restarts };
}

async function started(api: Api, opts: Partial<InformerOptions<Obj>> = {}) {
  const t = setup(api, opts);
  t.informer.start();
  await t.informer.waitForSync();
  await flush();
  return t;
}

const cacheView = (informer: Informer<Obj>) =>
  informer
    .list()
    .map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`)
    .sort();

describe('jitteredBackoff', () => {
  it('doubles per attempt from the base, capped, and jitters within [delay/2, delay]', () => {
    const top = () => 1;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => jitteredBackoff(n, 100, 1000, top)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(jitteredBackoff(3, 100, 1000, () => 0), 200);
    assert.equal(jitteredBackoff(3, 100, 1000, () => 0.5), 300);
    assert.equal(jitteredBackoff(0, 100, 1000, top), 100, 'attempt 0 is treated as the first');
    assert.equal(jitteredBackoff(5000, 100, 1000, top), 1000, 'no overflow far past the cap');
  });
});

describe('diffList', () => {
  it('splits a relist into added, updated (with the old object) and deleted', () => {
    const cache = new Map<string, Obj>([
      ['ns/same', obj('same', '1')],
      ['ns/changed', obj('changed', '1')],
      ['ns/gone', obj('gone', '1')],
    ]);
    const diff = diffList(cache, [obj('same', '1'), obj('changed', '2'), obj('new', '3')]);
    assert.deepEqual(diff, {
      added: [obj('new', '3')],
      updated: [{ obj: obj('changed', '2'), old: obj('changed', '1') }],
      deleted: [obj('gone', '1')],
    });
  });

  it('is empty for an identical list, and all-added for an empty cache', () => {
    const items = [obj('a', '1'), obj('b', '2')];
    assert.deepEqual(diffList(new Map(items.map((o) => [objectKey(o), o])), items), { added: [], updated: [], deleted: [] });
    assert.deepEqual(diffList(new Map(), items).added, items);
  });

  it('keys cluster-scoped objects by name alone', () => {
    assert.equal(objectKey({ metadata: { name: 'n' } }), 'n');
    assert.equal(objectKey({ metadata: { name: 'n', namespace: 'x' } }), 'x/n');
  });
});

describe('Informer', () => {
  it('first list fills the cache, emits add, then watches from the list resourceVersion with bookmarks', async () => {
    const api = fakeApi(listOf('10', obj('a', '5'), obj('b', '7')));
    const { informer, events } = await started(api, { labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
    assert.deepEqual(events, ['add ns/a@5', 'add ns/b@7']);
    assert.deepEqual(cacheView(informer), ['ns/a@5', 'ns/b@7']);
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '5');
    assert.equal(informer.get('ns', 'zzz'), undefined);
    assert.deepEqual(api.lists, [{ labelSelector: 'app.kubernetes.io/managed-by=ekspose', limit: 500, continue: undefined }]);
    assert.deepEqual(api.watches.map((w) => w.params), [
      { resourceVersion: '10', allowWatchBookmarks: true, timeoutSeconds: 60, labelSelector: 'app.kubernetes.io/managed-by=ekspose' },
    ]);
    assert.equal(informer.hasSynced, true);
    assert.deepEqual(
      { ...informer.status(), lastActivityAt: undefined },
      { resource: 'things', running: true, synced: true, objects: 2, restarts: 0, lastActivityAt: undefined, lastError: undefined, failingSince: undefined },
    );
    await informer.stop();
  });

  it('lists in pages as the server hands them out, transforms each page, and starts over when a continue token expires (410)', async () => {
    const all = Array.from({ length: 7 }, (_, i) => obj(`o${i}`, String(i + 1), 'big'));
    const asked: Array<{ limit?: number; continue?: string }> = [];
    let expireOnce = true;
    // As the API server pages: `continue` is where the next page starts; the list's resourceVersion on every page.
    const list = async (params: { limit?: number; continue?: string }): Promise<ListResult<Obj>> => {
      asked.push({ limit: params.limit, continue: params.continue });
      const start = Number(params.continue ?? 0);
      if (start === 6 && expireOnce) {
        expireOnce = false;
        throw Object.assign(new Error('The provided continue parameter is too old'), { code: 410 });
      }
      const end = Math.min(all.length, start + (params.limit ?? all.length));
      return { items: all.slice(start, end), metadata: { resourceVersion: '99', _continue: end < all.length ? String(end) : undefined } };
    };
    const api = fakeApi();
    const transformed: string[] = [];
    const { informer, clock } = setup(api, {
      list,
      listPageSize: 3,
      transform: (o) => (transformed.push(o.metadata.name), { ...o, data: undefined }),
    });
    informer.start();
    await flush();
    assert.equal(informer.hasSynced, false, 'the expired token failed the list: nothing half-applied');
    clock.advance(1_000);
    await flush();
    await flush();
    assert.equal(informer.hasSynced, true);
    assert.deepEqual(asked, [
      { limit: 3, continue: undefined },
      { limit: 3, continue: '3' },
      { limit: 3, continue: '6' },
      { limit: 3, continue: undefined },
      { limit: 3, continue: '3' },
      { limit: 3, continue: '6' },
    ]);
    assert.equal(informer.status().objects, 7);
    assert.equal(informer.get('ns', 'o6')?.data, undefined, 'cached as transformed');
    assert.deepEqual(api.watches.map((w) => w.params.resourceVersion), ['99']);
    assert.equal(transformed.length, 6 + 7, 'each object transformed as its page came');
    await informer.stop();
  });

  it('waitForSync resolves only once the first list has come back', async () => {
    const first = deferred<ListResult<Obj>>();
    const api = fakeApi(first);
    const { informer } = setup(api);
    let synced = false;
    informer.start();
    void informer.waitForSync().then(() => (synced = true));
    await flush();
    assert.equal(synced, false);
    assert.equal(informer.hasSynced, false);
    assert.equal(informer.status().synced, false);
    first.resolve(listOf('3', obj('a', '1')));
    await flush();
    assert.equal(synced, true);
    assert.equal(informer.get('ns', 'a')?.metadata.resourceVersion, '1', 'the cache is filled when it resolves');
    let again = false;
    await informer.waitForSync().then(() => (again = true));
    assert.equal(again, true);
    await informer.stop();
  });

  it('ADDED, MODIFIED and DELETED update the cache and emit, with the old object on update', async () => {
    const api = fakeApi(listOf('10', obj('a', '5')));
    const { informer, events } = await started(api);
    events.length = 0;
    const olds: Array<string | undefined> = [];
    informer.on(INFORMER_UPDATE, (_o, old) => void olds.push(old?.data));
    api.watch.push('MODIFIED', obj('a', '5')); // nothing new: no event
    api.watch.push('ADDED', obj('b', '11'));
    api.watch.push('MODIFIED', obj('a', '12', 'x'));
    api.watch.push('MODIFIED', obj('a', '13', 'y'));
    api.watch.push('DELETED', obj('b', '14'));
    assert.deepEqual(events, ['add ns/b@11', 'update ns/a@5->12', 'update ns/a@12->13', 'delete ns/b@14']);
    assert.deepEqual(olds, [undefined, 'x']);
    assert.deepEqual(cacheView(informer), ['ns/a@13']);
    assert.equal(informer.get('ns', 'a')?.data, 'y');
    await informer.stop();
  });

  it('MODIFIED with the resourceVersion already cached emits nothing', async () => {
    const api = fakeApi(listOf('10', obj('a', '5')));
    const { informer, events } = await started(api);
    events.length = 0;
    api.watch.push('MODIFIED', obj('a', '5'));
    api.watch.push('ADDED', obj('a', '5'));
    assert.deepEqual(events, []);
    await informer.stop();
  });

  it('BOOKMARK moves the resourceVersion the next watch starts from, without touching the cache', async () => {
    const api = fakeApi(listOf('10', obj('a', '5')));
    const { informer, events } = await started(api);
    events.length = 0;
    api.watch.push('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: '99' } });
    assert.deepEqual(events, []);
    assert.deepEqual(cacheView(informer), ['ns/a@5']);
    api.watch.end();
    await flush();
    assert.equal(api.watches.length, 2);
    assert.equal(api.watches[1]?.params.resourceVersion, '99');
    assert.equal(api.lists.length, 1, 'no relist');
    await informer.stop();
  });

  it('a watch that ends normally is resumed from the last resourceVersion seen, without a relist', async () => {
    const api = fakeApi(listOf('10', obj('a', '5')));
    const { informer, events } = await started(api);
    api.watch.push('MODIFIED', obj('a', '20'));
    api.watch.end();
    await flush();
    assert.deepEqual(api.watches.map((w) => w.params.resourceVersion), ['10', '20']);
    assert.equal(api.lists.length, 1);
    api.watch.push('ADDED', obj('c', '21'));
    assert.deepEqual(events.at(-1), 'add ns/c@21', 'the new watch feeds the cache');
    await informer.stop();
  });

  it('410 Gone (ERROR event, then the end): relists, and emits delete/update/add for what changed meanwhile', async () => {
    const api = fakeApi(listOf('10', obj('stays', '1'), obj('changes', '2'), obj('goes', '3')));
    const { informer, events } = await started(api);
    events.length = 0;
    api.respond(listOf('50', obj('stays', '1'), obj('changes', '40'), obj('arrives', '45')));
    api.watch.push('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 10 (30)' });
    api.watch.end();
    await flush();
    assert.equal(api.lists.length, 2, 'relisted');
    assert.deepEqual(events, ['delete ns/goes@3', 'add ns/arrives@45', 'update ns/changes@2->40']);
    assert.deepEqual(cacheView(informer), ['ns/arrives@45', 'ns/changes@40', 'ns/stays@1']);
    assert.equal(api.watch.params.resourceVersion, '50', 'watches again from the new list');
    await informer.stop();
  });

  it('410 as the error the watch ends with: relists after a backoff', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const { clock, informer } = await started(api);
    api.respond(listOf('60', obj('a', '2')));
    api.watch.end(Object.assign(new Error('Gone'), { code: 410 }));
    await flush();
    assert.equal(api.lists.length, 1);
    await clock.advanceAsync(100);
    assert.equal(api.lists.length, 2);
    assert.equal(api.watch.params.resourceVersion, '60');
    await informer.stop();
  });

  it('an ERROR event other than 410 counts as a failure: the next watch waits for the backoff, from the same resourceVersion', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const { clock, informer } = await started(api);
    for (const [round, delay] of [
      [1, 100],
      [2, 200],
    ] as const) {
      api.watch.push('ERROR', { kind: 'Status', code: 500, message: 'internal error' });
      api.watch.end();
      await flush();
      assert.equal(api.watches.length, round, 'no immediate rewatch');
      assert.match(informer.status().lastError ?? '', /500/);
      assert.notEqual(informer.status().failingSince, undefined);
      await clock.advanceAsync(delay - 1);
      assert.equal(api.watches.length, round);
      await clock.advanceAsync(1);
      assert.equal(api.watches.length, round + 1);
    }
    assert.deepEqual(api.watches.map((w) => w.params.resourceVersion), ['10', '10', '10']);
    assert.equal(api.lists.length, 1);
    await informer.stop();
  });

  it('a watch that fails to start is retried with backoff from the same resourceVersion, without a relist', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    api.failNextWatch(Object.assign(new Error('Forbidden'), { code: 403 }));
    const { clock, informer } = await started(api);
    assert.equal(api.watches.length, 0);
    assert.match(informer.status().lastError ?? '', /watch: Forbidden/);
    await clock.advanceAsync(99);
    assert.equal(api.watches.length, 0);
    await clock.advanceAsync(1);
    assert.equal(api.watches.length, 1);
    assert.equal(api.watch.params.resourceVersion, '10');
    assert.equal(api.lists.length, 1);
    await informer.stop();
  });

  it('list errors: retried with growing backoff (not before, yes after); failingSince set, then cleared once the watch works', async () => {
    // As undici (client-node 2.x) fails a request: the reason is in the cause.
    const boom = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 10.0.0.1:6443') });
    const api = fakeApi(boom, boom, boom, listOf('10', obj('a', '1')));
    const { clock, informer, restarts } = setup(api);
    const t0 = clock.now();
    informer.start();
    let synced = false;
    void informer.waitForSync().then(() => (synced = true));
    await flush();
    assert.equal(api.lists.length, 1);
    assert.equal(informer.status().failingSince, t0);
    assert.equal(informer.status().lastError, 'list: fetch failed: connect ECONNREFUSED 10.0.0.1:6443');

    // Delays of 100, 200, 400 ms (random = 1: the top of the jitter range).
    for (const [delay, listsAfter] of [
      [100, 2],
      [200, 3],
      [400, 4],
    ] as const) {
      await clock.advanceAsync(delay - 1);
      assert.equal(api.lists.length, listsAfter - 1, `not before ${delay} ms`);
      await clock.advanceAsync(1);
      assert.equal(api.lists.length, listsAfter, `after ${delay} ms`);
    }
    assert.equal(synced, true);
    assert.deepEqual(restarts, ['list', 'list', 'list']);
    assert.equal(informer.status().restarts, 3);
    // A list alone is not recovery: the watch has to work too.
    assert.equal(informer.status().failingSince, t0);
    api.watch.push('BOOKMARK', { metadata: { resourceVersion: '11' } });
    assert.equal(informer.status().failingSince, undefined);
    assert.equal(informer.status().lastError, undefined);

    // The backoff starts over after recovery.
    api.respond(boom, listOf('20'));
    api.watch.end(Object.assign(new Error('Gone'), { code: 410 }));
    await clock.advanceAsync(99);
    assert.equal(api.lists.length, 4);
    await clock.advanceAsync(1);
    assert.equal(api.lists.length, 5, 'first retry after the base delay again');
    await informer.stop();
  });

  it('backoff stops growing at backoffMaxMs', async () => {
    const boom = new Error('nope');
    const api = fakeApi(boom);
    const { clock, informer } = setup(api);
    informer.start();
    await flush();
    await clock.advanceAsync(100 + 200 + 400 + 800); // attempts 2..5
    assert.equal(api.lists.length, 5);
    await clock.advanceAsync(999);
    assert.equal(api.lists.length, 5);
    await clock.advanceAsync(1);
    assert.equal(api.lists.length, 6, 'capped at 1000 ms');
    await clock.advanceAsync(1000);
    assert.equal(api.lists.length, 7);
    await informer.stop();
  });

  it('the watchdog restarts (relists) a watch silent for longer than silentAfterMs', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const { clock, informer, restarts } = await started(api);
    const silent = api.watch;
    // Checks every silentAfterMs / 4 = 2500 ms; silent for more than 10 s first at the 12.5 s check.
    await clock.advanceAsync(12_499);
    assert.equal(api.lists.length, 1);
    await clock.advanceAsync(1);
    assert.equal(api.lists.length, 2, 'relisted');
    assert.equal(silent.aborted, true, 'the silent watch is dropped');
    assert.equal(api.watches.length, 2);
    assert.equal(restarts.length, 1);
    assert.match(restarts[0] ?? '', /silent/);
    assert.equal(informer.status().restarts, 1);
    await informer.stop();
  });

  it('a watch with regular bookmarks is never restarted', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const { clock, informer, restarts } = await started(api);
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(3_000);
      api.watch.push('BOOKMARK', { metadata: { resourceVersion: String(100 + i) } });
    }
    assert.equal(api.lists.length, 1);
    assert.equal(api.watches.length, 1);
    assert.deepEqual(restarts, []);
    await informer.stop();
  });

  it('a first list that never answers is restarted by the watchdog too', async () => {
    const hung = deferred<ListResult<Obj>>();
    const api = fakeApi(hung, listOf('10', obj('a', '1')));
    const { clock, informer } = setup(api);
    informer.start();
    let synced = false;
    void informer.waitForSync().then(() => (synced = true));
    await flush();
    await clock.advanceAsync(12_500);
    assert.equal(api.lists.length, 2);
    assert.equal(synced, true);
    hung.resolve(listOf('5', obj('stale', '1')));
    await flush();
    assert.deepEqual(cacheView(informer), ['ns/a@1'], 'the late answer of the abandoned list is dropped');
    await informer.stop();
  });

  it('stop(): the watch is aborted and nothing is called again, whatever happens next', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const { clock, informer, events } = await started(api);
    const w = api.watch;
    events.length = 0;
    await informer.stop();
    assert.equal(w.aborted, true);
    assert.equal(informer.status().running, false);
    assert.equal(clock.pendingTimers, 0);
    w.end(new Error('closed'));
    w.end();
    await clock.advanceAsync(60_000);
    assert.equal(api.lists.length, 1);
    assert.equal(api.watches.length, 1);
    assert.deepEqual(events, []);
  });

  it('stop() during a backoff cancels the retry; stop() during a list drops its answer', async () => {
    const api = fakeApi(new Error('down'));
    const a = setup(api);
    a.informer.start();
    await flush();
    await a.informer.stop();
    assert.equal(a.clock.pendingTimers, 0);
    await a.clock.advanceAsync(10_000);
    assert.equal(api.lists.length, 1);

    const pending = deferred<ListResult<Obj>>();
    const api2 = fakeApi(pending);
    const b = setup(api2);
    b.informer.start();
    await flush();
    await b.informer.stop();
    pending.resolve(listOf('1', obj('a', '1')));
    await flush();
    assert.equal(api2.watches.length, 0);
    assert.deepEqual(b.events, []);
  });

  it('a handler that throws does not stop the other handlers or the informer', async () => {
    const api = fakeApi(listOf('10'));
    const { informer, events } = setup(api);
    informer.on(INFORMER_ADD, () => {
      throw new Error('handler bug');
    });
    const after: string[] = [];
    informer.on(INFORMER_ADD, (o) => void after.push(objectKey(o)));
    informer.start();
    await informer.waitForSync();
    await flush();
    api.watch.push('ADDED', obj('a', '11'));
    api.watch.push('ADDED', obj('b', '12'));
    assert.deepEqual(after, ['ns/a', 'ns/b']);
    assert.deepEqual(events, ['add ns/a@11', 'add ns/b@12']);
    await informer.stop();
  });
});

describe('Informer transform', () => {
  const dropData = (o: Obj): Obj => ({ metadata: o.metadata });

  it('is applied to listed and watched objects before caching and handlers, never to bookmarks', async () => {
    const api = fakeApi(listOf('10', obj('a', '1', 'big')));
    const seen: Obj[] = [];
    const bookmarks: unknown[] = [];
    const t = await started(api, {
      transform: (o) => {
        if (!o.metadata?.name) bookmarks.push(o);
        return dropData(o);
      },
    });
    t.informer.on(INFORMER_ADD, (o) => void seen.push(o));
    t.informer.on(INFORMER_UPDATE, (o) => void seen.push(o));
    assert.equal(t.informer.get('ns', 'a')?.data, undefined, 'listed object cached transformed');
    api.watch.push('ADDED', obj('b', '11', 'big'));
    api.watch.push('MODIFIED', obj('a', '12', 'bigger'));
    api.watch.push('BOOKMARK', { metadata: { resourceVersion: '13' } });
    assert.deepEqual(seen.map((o) => [o.metadata.name, o.data]), [['b', undefined], ['a', undefined]]);
    assert.equal(t.informer.get('ns', 'b')?.data, undefined);
    assert.deepEqual(bookmarks, [], 'bookmarks are not objects to transform');
    api.watch.end();
    await flush();
    assert.equal(api.watches.at(-1)?.params.resourceVersion, '13', 'the bookmark still moved the resourceVersion');
  });
});

describe('Informer relist, setShard and clear (a sharded cache whose ranges change)', () => {
  const shardOf = (names: string[]) => ({ selector: names.join(','), accept: (o: Obj) => names.includes(o.metadata.name) });

  it('relist() drops the watch and lists again, counted as no restart; a list already out when it was called does not answer it', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const t = await started(api);
    const slow = deferred<ListResult<Obj>>();
    api.respond(slow, listOf('20', obj('a', '1'), obj('b', '15')));
    const first = t.informer.relist();
    await flush();
    assert.equal(api.watches[0]!.aborted, true);
    let answered = false;
    const second = t.informer.relist().then(() => (answered = true));
    await flush();
    assert.equal(api.lists.length, 3, 'the second relist asked again');
    slow.resolve(listOf('15', obj('a', '1')));
    await flush();
    await first;
    assert.equal(answered, true, 'the list asked after both answers both');
    await second;
    assert.deepEqual(cacheView(t.informer), ['ns/a@1', 'ns/b@15']);
    assert.deepEqual(t.restarts, []);
    assert.equal(t.informer.status().restarts, 0);
    assert.equal(api.watch.params.resourceVersion, '20');
    await t.informer.stop();
  });

  it('setShard() forgets what the new shard refuses, silently, and the next watch carries its selector; objects of a list out meanwhile are filtered by it', async () => {
    const api = fakeApi(listOf('10', obj('a', '1'), obj('b', '2')));
    const t = await started(api, { shard: shardOf(['a', 'b']) });
    assert.equal(api.lists.length, 1);
    t.informer.setShard(shardOf(['a']));
    assert.deepEqual(cacheView(t.informer), ['ns/a@1']);
    assert.deepEqual(t.events, ['add ns/a@1', 'add ns/b@2'], 'no delete event for b');
    api.watch.push('MODIFIED', obj('b', '11'));
    assert.deepEqual(cacheView(t.informer), ['ns/a@1'], 'an event outside the new shard is dropped');
    api.watch.end();
    await flush();
    assert.equal(api.watch.params.shardSelector, 'a');
    assert.equal(api.lists.length, 1, 'narrowing needs no list');
    // A list out with a wider selector, and the shard narrowed while it is.
    const wide = deferred<ListResult<Obj>>();
    api.respond(wide);
    t.informer.setShard(shardOf(['a', 'b']));
    const listed = t.informer.relist();
    await flush();
    t.informer.setShard(shardOf(['b']));
    wide.resolve(listOf('30', obj('a', '1'), obj('b', '12')));
    await listed;
    assert.deepEqual(cacheView(t.informer), ['ns/b@12']);
    await t.informer.stop();
  });

  it('clear() forgets everything without events, and the next start lists instead of watching from the old version', async () => {
    const api = fakeApi(listOf('10', obj('a', '1')));
    const t = await started(api);
    await t.informer.stop();
    t.informer.clear();
    assert.deepEqual(cacheView(t.informer), []);
    const listed = t.informer.relist();
    t.informer.start();
    await listed;
    assert.equal(api.lists.length, 2);
    assert.deepEqual(cacheView(t.informer), ['ns/a@1']);
    assert.deepEqual(t.events, ['add ns/a@1', 'add ns/a@1']);
    await t.informer.stop();
  });
});
