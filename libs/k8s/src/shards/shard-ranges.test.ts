import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HASH_SPACE,
  fnv1a64,
  fnv1a64Hex,
  hashSpans,
  hexBound,
  inShardRange,
  parseShardCount,
  rangeIndexOf,
  shardRange,
  shardRanges,
  shardSelector,
  unionSelector,
} from './shard-ranges';

// Expected values below were computed apart from this code (Python, arbitrary-precision integers).
const bounds = (count: number): Array<[string, string]> => shardRanges(count).map((r) => [hexBound(r.start), hexBound(r.end)]);

describe('fnv1a64', () => {
  it('gives the values of the issue, as 16 lower-case hex digits', () => {
    assert.equal(fnv1a64Hex(''), 'cbf29ce484222325');
    assert.equal(fnv1a64Hex('default'), 'ebada5168620c5fe');
    assert.equal(fnv1a64Hex('kube-system'), 'df65c7bc1d82b35e');
  });

  it('hashes UTF-8 bytes, keeps leading zeros, and stays below 2^64', () => {
    assert.equal(fnv1a64Hex('ns-1'), '4a82b7ba48e25cc0');
    // Two bytes in UTF-8 (0xc3 0xa9); the result starts with a zero digit that must be kept.
    assert.equal(fnv1a64Hex('é'), '0ac21707b7181e01');
    assert.equal(fnv1a64('a'), 0xaf63dc4c8601ec8cn);
    assert.ok(fnv1a64('kube-system') < HASH_SPACE);
  });
});

describe('shard ranges', () => {
  it('one range is the whole space', () => {
    assert.deepEqual(bounds(1), [['0x0000000000000000', '0x10000000000000000']]);
  });

  it('three ranges', () => {
    assert.deepEqual(bounds(3), [
      ['0x0000000000000000', '0x5555555555555555'],
      ['0x5555555555555555', '0xaaaaaaaaaaaaaaaa'],
      ['0xaaaaaaaaaaaaaaaa', '0x10000000000000000'],
    ]);
  });

  it('twelve ranges', () => {
    assert.deepEqual(bounds(12), [
      ['0x0000000000000000', '0x1555555555555555'],
      ['0x1555555555555555', '0x2aaaaaaaaaaaaaaa'],
      ['0x2aaaaaaaaaaaaaaa', '0x4000000000000000'],
      ['0x4000000000000000', '0x5555555555555555'],
      ['0x5555555555555555', '0x6aaaaaaaaaaaaaaa'],
      ['0x6aaaaaaaaaaaaaaa', '0x8000000000000000'],
      ['0x8000000000000000', '0x9555555555555555'],
      ['0x9555555555555555', '0xaaaaaaaaaaaaaaaa'],
      ['0xaaaaaaaaaaaaaaaa', '0xc000000000000000'],
      ['0xc000000000000000', '0xd555555555555555'],
      ['0xd555555555555555', '0xeaaaaaaaaaaaaaaa'],
      ['0xeaaaaaaaaaaaaaaa', '0x10000000000000000'],
    ]);
  });

  it('256 ranges are the top byte of the hash', () => {
    const all = bounds(256);
    assert.equal(all.length, 256);
    all.forEach(([start, end], i) => {
      assert.equal(start, `0x${i.toString(16).padStart(2, '0')}00000000000000`);
      assert.equal(end, i === 255 ? '0x10000000000000000' : `0x${(i + 1).toString(16).padStart(2, '0')}00000000000000`);
    });
  });

  for (const count of [1, 2, 3, 7, 12, 100, 255, 256]) {
    it(`${count} range(s) cover [0, 2^64) exactly, no gap, no overlap, none empty`, () => {
      const ranges = shardRanges(count);
      assert.equal(ranges.length, count);
      assert.equal(ranges[0]!.start, 0n);
      assert.equal(ranges.at(-1)!.end, HASH_SPACE);
      ranges.forEach((r, i) => {
        assert.equal(r.index, i);
        assert.equal(r.count, count);
        assert.ok(r.start < r.end, `range ${i} is empty`);
        if (i > 0) assert.equal(r.start, ranges[i - 1]!.end, `gap or overlap before range ${i}`);
      });
      // Every bound has the one shape the server's parser takes.
      for (const [start, end] of bounds(count)) {
        assert.match(start, /^0x[0-9a-f]{16}$/);
        assert.match(end, /^0x([0-9a-f]{16}|10000000000000000)$/);
      }
    });
  }

  it('refuses counts and indexes outside the space', () => {
    for (const count of [0, 257, 1.5, Number.NaN]) assert.throws(() => shardRanges(count), RangeError);
    assert.throws(() => shardRange(3, 3), RangeError);
    assert.throws(() => shardRange(-1, 3), RangeError);
    assert.throws(() => hexBound(HASH_SPACE + 1n), RangeError);
  });
});

describe('rangeIndexOf and inShardRange', () => {
  it('puts the issue namespaces where the independent computation does', () => {
    assert.equal(rangeIndexOf('default', 3), 2);
    assert.equal(rangeIndexOf('default', 12), 11);
    assert.equal(rangeIndexOf('default', 256), 0xeb);
    assert.equal(rangeIndexOf('ns-1', 12), 3);
    assert.equal(rangeIndexOf('é', 256), 0x0a);
    assert.equal(rangeIndexOf('anything', 1), 0);
  });

  it('agrees with a scan of the ranges for many names and counts: exactly one range holds each name', () => {
    for (const count of [1, 3, 12, 256]) {
      const ranges = shardRanges(count);
      for (let n = 0; n < 300; n++) {
        const ns = `team-${n}`;
        const holding = ranges.filter((r) => inShardRange(ns, r)).map((r) => r.index);
        assert.deepEqual(holding, [rangeIndexOf(ns, count)], `${ns} of ${count}`);
      }
    }
  });
});

describe('shardSelector', () => {
  it("is the server's canonical form for one range", () => {
    assert.equal(
      shardSelector(shardRange(2, 3)),
      "shardRange(object.metadata.namespace, '0xaaaaaaaaaaaaaaaa', '0x10000000000000000')",
    );
  });

  it('joins several ranges with ||, as Selector.String() does', () => {
    assert.equal(
      shardSelector(shardRange(0, 4), shardRange(3, 4)),
      "shardRange(object.metadata.namespace, '0x0000000000000000', '0x4000000000000000') || " +
        "shardRange(object.metadata.namespace, '0xc000000000000000', '0x10000000000000000')",
    );
  });

  it('refuses no range at all: an empty selector is a server error, not "everything"', () => {
    assert.throws(() => shardSelector(), RangeError);
  });
});

describe('unionSelector (one selector for every range a replica holds)', () => {
  it('merges consecutive ranges into one term and keeps the others apart, in order', () => {
    assert.equal(
      unionSelector([3, 0, 1], 4),
      "shardRange(object.metadata.namespace, '0x0000000000000000', '0x8000000000000000') || " +
        "shardRange(object.metadata.namespace, '0xc000000000000000', '0x10000000000000000')",
    );
  });

  it('every range of the count is the whole space in one term; one range is its own selector', () => {
    assert.equal(unionSelector(Array.from({ length: 12 }, (_, i) => i), 12), "shardRange(object.metadata.namespace, '0x0000000000000000', '0x10000000000000000')");
    assert.equal(unionSelector([5], 12), shardSelector(shardRange(5, 12)));
  });

  it('the spans admit exactly the namespaces of the ranges given, for any subset', () => {
    const count = 12;
    const names = Array.from({ length: 400 }, (_, n) => `team-${n}-prod`);
    for (const held of [[0], [11], [2, 3, 4], [0, 2, 4, 6, 8, 10], [1, 2, 5, 6, 7, 11]]) {
      const spans = hashSpans(held, count);
      for (const ns of names) {
        const h = fnv1a64(ns);
        assert.equal(spans.some((s) => h >= s.start && h < s.end), held.includes(rangeIndexOf(ns, count)), `${ns} with ${held}`);
      }
    }
    assert.equal(hashSpans([0, 2, 4, 6, 8, 10], count).length, 6);
    assert.equal(hashSpans([1, 2, 5, 6, 7, 11], count).length, 3);
  });

  it('refuses an empty set, as shardSelector does', () => {
    assert.throws(() => unionSelector([], 12), RangeError);
  });
});

describe('parseShardCount', () => {
  it('defaults to one range when unset or empty', () => {
    assert.deepEqual(parseShardCount(undefined), { ok: true, shards: 1 });
    assert.deepEqual(parseShardCount(''), { ok: true, shards: 1 });
    assert.deepEqual(parseShardCount('  '), { ok: true, shards: 1 });
  });

  it('takes integers 1-256', () => {
    assert.deepEqual(parseShardCount('1'), { ok: true, shards: 1 });
    assert.deepEqual(parseShardCount('12'), { ok: true, shards: 12 });
    assert.deepEqual(parseShardCount(' 256 '), { ok: true, shards: 256 });
  });

  it('names the variable and what it got for anything else', () => {
    for (const raw of ['0', '257', '1000']) {
      assert.deepEqual(parseShardCount(raw), { ok: false, problem: `EKSPOSE_SHARDS must be an integer from 1 to 256, got ${Number(raw)}` });
    }
    for (const raw of ['-3', '1.5', '1e2', '0x10', '12abc', 'three']) {
      assert.deepEqual(parseShardCount(raw), { ok: false, problem: `EKSPOSE_SHARDS must be an integer from 1 to 256, got "${raw}"` });
    }
  });
});
