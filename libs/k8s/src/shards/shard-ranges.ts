// The namespace hash space and its ranges, computed exactly as kube-apiserver's
// ShardedListAndWatch does (k8s.io/apimachinery/pkg/sharding at v0.37.2:
// HashField is FNV-1a 64 of the field's bytes, printed as 16 hex digits; a
// range is [start, end) compared as 0x-prefixed hex). The same numbers filter
// on the client when the server did not apply the selector, so both sides
// must agree to the bit: BigInt throughout, never a float.

/** 2^64: the exclusive end of the whole space. */
export const HASH_SPACE = 1n << 64n;
/** EKSPOSE_SHARDS bounds. 256 ranges is already far more than replicas anyone runs. */
export const MIN_SHARDS = 1;
export const MAX_SHARDS = 256;
/** The only field ekspose shards on: a Deployment and the objects it owns share it. */
export const SHARD_FIELD = 'object.metadata.namespace';

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const utf8 = new TextEncoder();

/**
 * FNV-1a 64 of the string's UTF-8 bytes, as Go's hash/fnv New64a over []byte(value).
 * (Namespace names are DNS labels, plain ASCII, so how a lone surrogate would
 * encode never matters here.)
 */
export function fnv1a64(value: string): bigint {
  let hash = FNV64_OFFSET;
  for (const byte of utf8.encode(value)) {
    hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * FNV64_PRIME);
  }
  return hash;
}

/** The hash as the server prints it (sharding.HashField): 16 lower-case hex digits. */
export function fnv1a64Hex(value: string): string {
  return fnv1a64(value).toString(16).padStart(16, '0');
}

/** A bound as the server accepts it: `0x` + 16 lower-case hex digits, or `0x10000000000000000` for 2^64. */
export function hexBound(value: bigint): string {
  if (value < 0n || value > HASH_SPACE) throw new RangeError(`hash bound out of [0, 2^64]: ${value}`);
  // 2^64 pads to 17 digits by itself, which is the one 17-digit value the parser allows.
  return `0x${value.toString(16).padStart(16, '0')}`;
}

/** Range `index` of `count`: hashes h with start <= h < end. */
export interface ShardRange {
  index: number;
  count: number;
  start: bigint;
  end: bigint;
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < MIN_SHARDS || count > MAX_SHARDS) {
    throw new RangeError(`shard count must be an integer ${MIN_SHARDS}-${MAX_SHARDS}, got ${count}`);
  }
}

/** [floor(i·2^64/n), floor((i+1)·2^64/n)): the same formula in every replica, so ranges meet without gap or overlap. */
export function shardRange(index: number, count: number): ShardRange {
  checkCount(count);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`range index must be 0-${count - 1}, got ${index}`);
  const n = BigInt(count);
  return { index, count, start: (BigInt(index) * HASH_SPACE) / n, end: (BigInt(index + 1) * HASH_SPACE) / n };
}

export function shardRanges(count: number): ShardRange[] {
  checkCount(count);
  return Array.from({ length: count }, (_, i) => shardRange(i, count));
}

/**
 * The shardSelector query value for these ranges, in the server's own canonical
 * form (sharding.Selector.String(): `shardRange(field, 'start', 'end')` joined by
 * ` || `), so metadata.shardInfo.selector echoes it back character for character.
 */
export function shardSelector(...ranges: ReadonlyArray<Pick<ShardRange, 'start' | 'end'>>): string {
  if (ranges.length === 0) throw new RangeError('a shard selector needs at least one range (omit it to list everything)');
  return ranges.map((r) => `shardRange(${SHARD_FIELD}, '${hexBound(r.start)}', '${hexBound(r.end)}')`).join(' || ');
}

/**
 * The ranges of `count` at these indices as the fewest [start, end) spans, in
 * order: range i ends exactly where i + 1 starts (one formula), so a run of
 * consecutive indices is one span, and every index of the count is [0, 2^64).
 */
export function hashSpans(indices: Iterable<number>, count: number): Array<{ start: bigint; end: bigint }> {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const spans: Array<{ start: bigint; end: bigint }> = [];
  for (const index of sorted) {
    const range = shardRange(index, count);
    const last = spans.at(-1);
    if (last && last.end === range.start) last.end = range.end;
    else spans.push({ start: range.start, end: range.end });
  }
  return spans;
}

/**
 * One shardSelector for several ranges of `count`: the server's union
 * (`shardRange(…) || shardRange(…)`, one term per span of consecutive ranges),
 * so one list and watch per kind serves every range a replica holds. The
 * server's parser (k8s.io/apiserver pkg/sharding) takes any number of terms
 * on one field and echoes them in this order and form.
 */
export function unionSelector(indices: Iterable<number>, count: number): string {
  return shardSelector(...hashSpans(indices, count));
}

/**
 * Which of `count` ranges the namespace falls in. floor(h·n/2^64) is the
 * largest i with floor(i·2^64/n) <= h, i.e. exactly the range holding h.
 */
export function rangeIndexOf(namespace: string, count: number): number {
  checkCount(count);
  return Number((fnv1a64(namespace) * BigInt(count)) / HASH_SPACE);
}

/** Whether the namespace's hash lies in the range: the client-side filter where the server ignored the selector. */
export function inShardRange(namespace: string, range: ShardRange): boolean {
  const hash = fnv1a64(namespace);
  return hash >= range.start && hash < range.end;
}

export type ShardCount = { ok: true; shards: number } | { ok: false; problem: string };

/**
 * EKSPOSE_SHARDS as written in the environment: unset or empty means 1 (one
 * range, today's behaviour); otherwise a plain decimal integer 1-256. Anything
 * else is a problem string that names the variable and what it got, for the
 * start-up error.
 */
export function parseShardCount(raw: string | undefined): ShardCount {
  const text = raw?.trim() ?? '';
  if (text === '') return { ok: true, shards: MIN_SHARDS };
  const range = `an integer from ${MIN_SHARDS} to ${MAX_SHARDS}`;
  // Number('1e2'), Number('0x10') and parseInt('12abc') all accept what nobody meant.
  if (!/^[0-9]+$/.test(text)) return { ok: false, problem: `EKSPOSE_SHARDS must be ${range}, got ${JSON.stringify(raw)}` };
  const shards = Number(text);
  if (shards < MIN_SHARDS || shards > MAX_SHARDS) return { ok: false, problem: `EKSPOSE_SHARDS must be ${range}, got ${shards}` };
  return { ok: true, shards };
}
