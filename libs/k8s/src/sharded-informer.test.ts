// The sharded caches against a list/watch that filters like kube-apiserver does
// with ShardedListAndWatch on (it echoes shardInfo and returns only the range)
// or off (it ignores the selector and returns everything, with no shardInfo).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { INFORMER_ADD, INFORMER_DELETE, Informer, type ListParams, type ListResult, type WatchEventType, type WatchParams } from './informer';
import { ManualClock } from './manual-clock';
import { fnv1a64, rangeIndexOf, shardRange } from './shard-ranges';
import { ShardedInformer } from './sharded-informer';
import { RangeNotHeldError, ShardedWork } from './sharded-work';
import { WorkQueue } from './work-queue';

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
  const watchers: Array<{ params: WatchParams; push: (type: WatchEventType, obj: unknown) => void }> = [];
  let version = objects.length;
  return {
    objects,
    lists,
    list: async (params: ListParams): Promise<ListResult<Obj>> => {
      lists.push(params);
      const selector = params.shardSelector;
      const items = gate && selector ? objects.filter((o) => inSelector(selector, o.metadata.namespace)) : objects;
      return { items: structuredClone(items), metadata: { resourceVersion: String(version), ...(gate && selector ? { shardInfo: { selector } } : {}) } };
    },
    watch: async (params: WatchParams, onEvent: (type: WatchEventType, obj: unknown) => void) => {
      watchers.push({ params, push: onEvent });
      return { abort: () => undefined };
    },
    /** An event as the server sends it to every watch whose selector matches (all of them with the gate off). */
    emit(type: WatchEventType, obj: Obj) {
      obj.metadata.resourceVersion = String(++version);
      for (const w of watchers) if (!gate || !w.params.shardSelector || inSelector(w.params.shardSelector, obj.metadata.namespace)) w.push(type, structuredClone(obj));
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
    return { queue, cache, work, served };
  }
  const nsOf = (range: number) => NAMESPACES.find((ns) => rangeIndexOf(ns, SHARDS) === range)!;

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
