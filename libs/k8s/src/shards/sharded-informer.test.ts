// The sharded caches against a list/watch that filters like kube-apiserver does
// with ShardedListAndWatch on (it echoes shardInfo and returns only the range)
// or off (it ignores the selector and returns everything, with no shardInfo).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { INFORMER_ADD, INFORMER_DELETE, Informer, type ListParams, type ListResult, type WatchEventType, type WatchParams } from '../cache/informer';
import { ManualClock } from '../base/manual-clock';
import { fnv1a64, rangeIndexOf, shardRange, unionSelector } from './shard-ranges';
import { ShardedInformer } from './sharded-informer';
import { RangeNotHeldError, ShardedWork } from './sharded-work';
import { WorkQueue } from '../queue/work-queue';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const SHARDS = 4;
const NAMESPACES = Array.from({ length: 24 }, (_, i) => `team-${i}-prod`);
const log = pino({ level: 'silent' });
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The server's filter: the hash of the namespace within one of the selector's ranges. */
function inSelector(selector: string, namespace: string): boolean {
  const hash = fnv1a64(namespace);
  return [...selector.matchAll(/'0x([0-9a-f]+)', '0x([0-9a-f]+)'/g)].some(([, start, end]) => hash >= BigInt(`0x${start}`) && hash < BigInt(`0x${end}`));
}

/** A cluster of objects behind a list and watch that apply the shard selector when `gate` is on. */
function cluster(gate: boolean) {
  const objects = NAMESPACES.map((namespace, i) => ({ metadata: { name: 'app', namespace, resourceVersion: String(i + 1) } }));
  const lists: ListParams[] = [];
  const watchers: Array<{ params: WatchParams; push: (type: WatchEventType, obj: unknown) => void; done: (err: unknown) => void; open: boolean }> = [];
  let version = objects.length;
  /** While set, lists wait for it (a list in flight). */
  let hold: Promise<void> | undefined;
  return {
    objects,
    lists,
    watchers,
    /** Streams the server holds now. */
    get open() {
      return watchers.filter((w) => w.open);
    },
    /** Lists wait until the returned function is called. */
    holdLists(): () => void {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
    list: async (params: ListParams): Promise<ListResult<Obj>> => {
      lists.push(params);
      // The list is read when asked, then answered when let go, as a slow server does.
      const selector = params.shardSelector;
      const items = gate && selector ? objects.filter((o) => inSelector(selector, o.metadata.namespace)) : objects;
      const answer = { items: structuredClone(items), metadata: { resourceVersion: String(version), ...(gate && selector ? { shardInfo: { selector } } : {}) } };
      await hold;
      return answer;
    },
    watch: async (params: WatchParams, onEvent: (type: WatchEventType, obj: unknown) => void, onDone: (err: unknown) => void) => {
      const w = { params, push: onEvent, done: onDone, open: true };
      watchers.push(w);
      return { abort: () => void (w.open = false) };
    },
    /** An event as the server sends it to every watch whose selector matches (all of them with the gate off). */
    emit(type: WatchEventType, obj: Obj) {
      obj.metadata.resourceVersion = String(++version);
      if (type === 'ADDED') objects.push(structuredClone(obj));
      for (const w of watchers) {
        if (w.open && (!gate || !w.params.shardSelector || inSelector(w.params.shardSelector, obj.metadata.namespace))) w.push(type, structuredClone(obj));
      }
    },
    /** The server ends every open watch normally (its timeout): the informer watches again from where it was. */
    endWatches() {
      for (const w of watchers.filter((x) => x.open)) {
        w.open = false;
        w.done(null);
      }
    },
  };
}

function sharded(api: ReturnType<typeof cluster>) {
  return new ShardedInformer<Obj>('things', SHARDS, (shard) =>
    // A manual clock: the informers' watchdogs never fire (or keep the test process alive).
    new Informer<Obj>({ resource: 'things', list: api.list, watch: api.watch, log, clock: new ManualClock(), shard: { selector: shard.selector, accept: shard.accept } }),
  );
}

for (const gate of [true, false]) {
  describe(`ShardedInformer, server ${gate ? 'filtering' : 'ignoring the selector'}`, () => {
    it('caches only the held ranges, reads by namespace, and says who filtered', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      const added: string[] = [];
      cache.on(INFORMER_ADD, (o) => added.push(o.metadata.namespace));
      cache.start();
      await Promise.all([cache.addRange(0), cache.addRange(2)]);
      const expected = NAMESPACES.filter((ns) => [0, 2].includes(rangeIndexOf(ns, SHARDS))).sort();
      assert.ok(expected.length > 0 && expected.length < NAMESPACES.length, 'the namespaces spread over the ranges');
      assert.deepEqual(cache.list().map((o) => o.metadata.namespace).sort(), expected);
      assert.deepEqual(added.sort(), expected);
      for (const ns of NAMESPACES) assert.equal(cache.get(ns, 'app') !== undefined, expected.includes(ns), ns);
      assert.equal(cache.status().serverSide, gate);
      assert.equal(cache.status().objects, expected.length);
      assert.ok(api.lists.every((l) => l.shardSelector?.startsWith('shardRange(object.metadata.namespace, ')), 'every list carries its range');
    });

    it('filters every watch event of a range not held, and drops a range without a delete event', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      const deleted: string[] = [];
      cache.on(INFORMER_DELETE, (o) => deleted.push(o.metadata.namespace));
      cache.start();
      await cache.addRange(1);
      const inRange = NAMESPACES.find((ns) => rangeIndexOf(ns, SHARDS) === 1)!;
      const outside = NAMESPACES.find((ns) => rangeIndexOf(ns, SHARDS) !== 1)!;
      api.emit('ADDED', { metadata: { name: 'new', namespace: outside, resourceVersion: '' } });
      api.emit('ADDED', { metadata: { name: 'new', namespace: inRange, resourceVersion: '' } });
      await flush();
      assert.equal(cache.get(outside, 'new'), undefined, 'an event of another range is not cached');
      assert.ok(cache.get(inRange, 'new'));
      api.emit('DELETED', { metadata: { name: 'app', namespace: outside, resourceVersion: '' } });
      await flush();
      assert.deepEqual(deleted, [], 'a deletion outside the range is not heard');
      await cache.dropRange(1);
      assert.equal(cache.list().length, 0);
      assert.deepEqual(deleted, [], 'dropping a range tells no handler of deletions');
    });
  });
}

for (const gate of [true, false]) {
  describe(`ShardedInformer: one list and watch per kind, server ${gate ? 'filtering' : 'ignoring the selector'}`, () => {
    const nsOf = (range: number) => NAMESPACES.find((ns) => rangeIndexOf(ns, SHARDS) === range)!;
    const cachedRanges = (cache: ShardedInformer<Obj>) => [...new Set(cache.list().map((o) => rangeIndexOf(o.metadata.namespace, SHARDS)))].sort();

    it('ranges gained in one round share one list and one watch, whose selector is their union', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      cache.start();
      await Promise.all([cache.addRange(0), cache.addRange(1), cache.addRange(3)]);
      assert.equal(api.lists.length, 1, 'one list for three ranges');
      assert.equal(api.open.length, 1, 'one watch for three ranges');
      assert.equal(api.lists[0]!.shardSelector, unionSelector([0, 1, 3], SHARDS));
      assert.equal(api.open[0]!.params.shardSelector, unionSelector([0, 1, 3], SHARDS));
      assert.deepEqual(cachedRanges(cache), [0, 1, 3]);
      assert.equal(cache.status().serverSide, gate);
      assert.ok([0, 1, 3].every((r) => cache.hasListed(r)));
    });

    it('a range gained later costs one list, and is listed only once that list filled the cache; the ranges served stay readable meanwhile', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      cache.start();
      await cache.addRange(0);
      const release = api.holdLists();
      let listed = false;
      const gained = cache.addRange(2).then(() => (listed = true));
      await flush();
      assert.equal(api.lists.length, 2, 'one list more');
      assert.equal(api.lists[1]!.shardSelector, unionSelector([0, 2], SHARDS));
      assert.equal(api.open.length, 0, 'the old watch was dropped for the new list');
      assert.equal(listed, false, 'not listed before the list came back');
      assert.equal(cache.hasListed(2), false);
      assert.equal(cache.hasSynced, false, 'not synced while a range held lists');
      assert.ok(cache.get(nsOf(0), 'app'), 'range 0 is still read from the cache');
      release();
      await gained;
      assert.deepEqual(cachedRanges(cache), [0, 2]);
      assert.equal(api.open.length, 1, 'one watch again, with the union');
      assert.equal(api.open[0]!.params.shardSelector, unionSelector([0, 2], SHARDS));
      assert.equal(cache.status().restarts, 0, 'a list for a range is no failure');
    });

    it('a range let go costs no list and no delete event; the watch goes on, and is renewed with the narrower selector', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      const deleted: string[] = [];
      const added: string[] = [];
      cache.on(INFORMER_DELETE, (o) => deleted.push(o.metadata.namespace));
      cache.start();
      await Promise.all([cache.addRange(1), cache.addRange(2)]);
      cache.on(INFORMER_ADD, (o) => added.push(o.metadata.namespace));
      const watch = api.open[0]!;
      await cache.dropRange(2);
      assert.deepEqual(cachedRanges(cache), [1]);
      assert.deepEqual(deleted, []);
      assert.equal(api.lists.length, 1, 'no list');
      assert.deepEqual(api.open, [watch], 'the same watch');
      // The watch still asks for range 2 (with the gate off it gets everything): those events are dropped here.
      api.emit('ADDED', { metadata: { name: 'late', namespace: nsOf(2), resourceVersion: '' } });
      api.emit('ADDED', { metadata: { name: 'late', namespace: nsOf(1), resourceVersion: '' } });
      await flush();
      assert.deepEqual(added, [nsOf(1)]);
      assert.equal(cache.get(nsOf(2), 'late'), undefined);
      api.endWatches();
      await flush();
      assert.equal(api.lists.length, 1, 'watched again from where it was, without a list');
      assert.equal(api.open.length, 1);
      assert.equal(api.open[0]!.params.shardSelector, unionSelector([1], SHARDS));
    });

    it('no range held: no watch at all; a range taken again lists again', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      cache.start();
      assert.equal(api.lists.length + api.watchers.length, 0, 'nothing listed or watched before a range is held');
      await cache.addRange(3);
      await cache.dropRange(3);
      assert.equal(api.open.length, 0);
      assert.equal(cache.list().length, 0);
      await cache.addRange(3);
      assert.equal(api.lists.length, 2);
      assert.equal(api.open.length, 1);
      assert.deepEqual(cachedRanges(cache), [3]);
    });

    it('a range let go while its list is out keeps nothing of it, and its waiter is answered without it being listed', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      cache.start();
      await cache.addRange(0);
      const release = api.holdLists();
      const gained = cache.addRange(1);
      await flush();
      await cache.dropRange(1);
      release();
      await gained;
      await flush();
      assert.equal(cache.hasListed(1), false);
      assert.deepEqual(cachedRanges(cache), [0]);
      assert.ok(cache.hasSynced);
    });

    it('a range let go and taken again while a list is out waits for a list of its new holding', async () => {
      const api = cluster(gate);
      const cache = sharded(api);
      cache.start();
      await cache.addRange(0);
      const release = api.holdLists();
      void cache.addRange(1);
      await flush();
      await cache.dropRange(1);
      let listed = false;
      const again = cache.addRange(1).then(() => (listed = true));
      await flush();
      assert.equal(api.lists.length, 3, 'taken again: one list more');
      release();
      await again;
      assert.ok(listed && cache.hasListed(1));
      assert.deepEqual(cachedRanges(cache), [0, 1]);
      assert.equal(api.open.length, 1);
    });
  });
}

describe('ShardedInformer before its cache starts (a CRD not served yet)', () => {
  it('a range added is served at once, and lists when the cache starts', async () => {
    const api = cluster(true);
    const cache = sharded(api);
    await cache.addRange(3);
    assert.equal(api.lists.length, 0);
    cache.start();
    await cache.waitForSync();
    assert.equal(api.lists.length, 1);
  });
});

describe('ShardedWork (ranges, the queue and the write guard)', () => {
  function setup() {
    const queue = new WorkQueue({ name: 'test', workers: 2, log });
    const api = cluster(true);
    const cache = sharded(api);
    cache.start();
    const served: number[] = [];
    const work = new ShardedWork({
      shards: SHARDS,
      caches: [cache as never],
      queue,
      namespaceOfKey: (key) => key.split('/')[0],
      onServing: (range) => served.push(range),
      log,
    });
    return { queue, cache, work, served, api };
  }
  const nsOf = (range: number) => NAMESPACES.find((ns) => rangeIndexOf(ns, SHARDS) === range)!;

  it('ranges taken in one round are served after one list of each cache, and a range handed back lists nothing', async () => {
    const { work, served, api } = setup();
    work.gain(0);
    work.gain(1);
    work.gain(3);
    await flush();
    await flush();
    assert.deepEqual(served.sort(), [0, 1, 3]);
    assert.equal(api.lists.length, 1);
    await work.lose(1, 'hand-back');
    assert.equal(api.lists.length, 1);
    assert.equal(api.open.length, 1);
    assert.equal(work.accepts(`${nsOf(1)}/app`), false);
  });

  it('serves a range once its caches listed; guards writes by the namespace range', async () => {
    const { work, served } = setup();
    work.gain(2);
    assert.equal(work.state(2), 'starting');
    assert.equal(work.accepts(`${nsOf(2)}/app`), false, 'no keys before the caches listed');
    await flush();
    await flush();
    assert.equal(work.state(2), 'serving');
    assert.deepEqual(served, [2]);
    assert.equal(work.accepts(`${nsOf(2)}/app`), true);
    assert.equal(work.accepts(`${nsOf(1)}/app`), false);
    assert.doesNotThrow(() => work.guard(nsOf(2)));
    assert.throws(() => work.guard(nsOf(1)), RangeNotHeldError);
  });

  it('a hand-back drops queued keys of the range, lets the in-flight one write to its end, then refuses writes and drops the cache', async () => {
    const { queue, work, cache } = setup();
    work.gain(0);
    work.gain(3);
    await flush();
    await flush();
    const a = nsOf(0);
    const b = nsOf(3);
    let release!: () => void;
    const writes: string[] = [];
    queue.start(async (key) => {
      if (key === `${a}/slow`) {
        await new Promise<void>((resolve) => (release = resolve));
        work.guard(a);
        writes.push(key);
      } else writes.push(key);
      return { kind: 'done' };
    });
    queue.add(`${a}/slow`);
    await flush();
    queue.addAfter(`${a}/later`, 60_000);
    const handBack = work.lose(0, 'hand-back');
    assert.equal(work.state(0), 'draining');
    assert.equal(work.accepts(`${a}/new`), false, 'no new keys of a range being handed back');
    let done = false;
    void handBack.then(() => (done = true));
    await flush();
    assert.equal(done, false, 'waits for the in-flight reconcile');
    release();
    await handBack;
    assert.deepEqual(writes, [`${a}/slow`], 'the in-flight write went out; the delayed key was dropped');
    assert.equal(queue.held, 0);
    assert.throws(() => work.guard(a), RangeNotHeldError);
    assert.ok(cache.list().every((o) => rangeIndexOf(o.metadata.namespace, SHARDS) === 3));
    assert.ok(cache.get(b, 'app'));
  });

  it('a lost range refuses the in-flight reconcile’s next write at once', async () => {
    const { queue, work } = setup();
    work.gain(1);
    await flush();
    await flush();
    const ns = nsOf(1);
    let release!: () => void;
    const outcome: string[] = [];
    queue.start(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      try {
        work.guard(ns);
        outcome.push('written');
      } catch (err) {
        outcome.push((err as Error).name);
      }
      return { kind: 'done' };
    });
    queue.add(`${ns}/app`);
    await flush();
    const lost = work.lose(1, 'lost');
    release();
    await lost;
    assert.deepEqual(outcome, ['RangeNotHeldError']);
  });
});

describe('shard ranges used here', () => {
  it('the ranges of 4 cover the hash space', () => {
    assert.equal(shardRange(0, SHARDS).start, 0n);
    assert.equal(shardRange(SHARDS - 1, SHARDS).end, 1n << 64n);
  });
});
