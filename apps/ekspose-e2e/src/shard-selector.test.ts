// What kube-apiserver v1.37 really does with ShardedListAndWatch, checked
// against our own range formula and FNV-1a hash (libs/k8s/src/shards/shard-ranges.ts):
// with the gate on, each range's shardSelector returns exactly the objects
// whose namespace hashes into it, and metadata.shardInfo says so; with the
// gate off the selector is ignored, shardInfo is absent, and the replica must
// filter on its side. No controller runs here: only the API server's answers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rangeIndexOf, shardRange, shardRanges, shardSelector } from '@ekspose/k8s';
import { type ControlPlane, startControlPlane } from '@ekspose/testing';

// FNV-1a spreads names that differ early (probe-7-ns, probe-23-ns) over the
// space, but names that differ only in their last characters (tenant-000,
// tenant-001, …) land close together: a change in the last byte moves only
// bits 40-48 of the hash, and ranges are cut by the top bits. Both kinds are here.
const SPREAD = Array.from({ length: 40 }, (_, i) => `probe-${i}-ns`);
const CLUSTERED = Array.from({ length: 10 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
const NAMESPACES = [...SPREAD, ...CLUSTERED];
const COUNT = 3;
const LABEL = 'ekspose.io/test=shard-selector';

interface ConfigMapList {
  metadata: { shardInfo?: { selector: string }; continue?: string };
  items: Array<{ metadata: { namespace: string; name: string } }>;
}

/** A Namespace and a labelled ConfigMap in each, in one apply. */
function manifest(): string {
  const items = NAMESPACES.flatMap((ns) => [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'probe', namespace: ns, labels: { 'ekspose.io/test': 'shard-selector' } }, data: { ns } },
  ]);
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** A plane with the harness's feature gates (ShardedListAndWatch on), or with these over them. */
async function startPlane(featureGates?: Record<string, boolean>): Promise<ControlPlane> {
  // Only the API server is under test: no controller manager (it would add kube-root-ca.crt ConfigMaps) and no NATS.
  const plane = await startControlPlane({ nats: false, controllerManager: false, featureGates, log: (line) => process.stderr.write(`[plane] ${line}\n`) });
  const applied = await plane.kubectl(['apply', '-f', '-'], { input: manifest(), timeoutMs: 120_000 });
  assert.equal(applied.code, 0, applied.stderr);
  return plane;
}

/** GET /api/v1/configmaps with the query, raw, as an informer's list would send it. */
async function listConfigMaps(plane: ControlPlane, query: Record<string, string>): Promise<ConfigMapList> {
  const res = await plane.kubectl(['get', '--raw', `/api/v1/configmaps?${new URLSearchParams(query).toString()}`]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as ConfigMapList;
}

const keyOf = (item: ConfigMapList['items'][number]): string => `${item.metadata.namespace}/${item.metadata.name}`;

describe('shardSelector with the ShardedListAndWatch gate on (the harness default)', () => {
  let plane: ControlPlane;
  before(async () => {
    // No gates named: the default every local plane (tests, npm run cluster, npm run dev) starts with is under test.
    plane = await startPlane();
    assert.deepEqual(plane.featureGates, { ShardedListAndWatch: true });
  });
  after(async () => {
    await plane?.stop();
  });

  it('the three ranges of 3 split every ConfigMap between them, each where our FNV-1a puts its namespace, and shardInfo echoes each selector', async () => {
    const everything = (await listConfigMaps(plane, { labelSelector: LABEL })).items.map(keyOf).sort();
    assert.equal(everything.length, NAMESPACES.length);
    // The namespaces are spread over all three ranges, so an empty answer could not pass unnoticed.
    assert.deepEqual(new Set(SPREAD.map((ns) => rangeIndexOf(ns, COUNT))), new Set([0, 1, 2]));

    const seen: string[] = [];
    for (const range of shardRanges(COUNT)) {
      const selector = shardSelector(range);
      const list = await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: selector });
      assert.deepEqual(list.metadata.shardInfo, { selector }, `shardInfo of range ${range.index}`);
      for (const item of list.items) {
        assert.equal(rangeIndexOf(item.metadata.namespace, COUNT), range.index, `${keyOf(item)} came back for range ${range.index}`);
      }
      const expected = NAMESPACES.filter((ns) => rangeIndexOf(ns, COUNT) === range.index).map((ns) => `${ns}/probe`).sort();
      assert.deepEqual(list.items.map(keyOf).sort(), expected, `range ${range.index}`);
      seen.push(...list.items.map(keyOf));
    }
    assert.deepEqual(seen.sort(), everything, 'the union of the ranges is everything, nothing twice');
  });

  it('the ranges of 12 split the whole unlabelled collection (every namespace, ours and the system ones) the same way', async () => {
    const everything = (await listConfigMaps(plane, {})).items;
    const seen: string[] = [];
    for (const range of shardRanges(12)) {
      const list = await listConfigMaps(plane, { shardSelector: shardSelector(range) });
      assert.ok(list.metadata.shardInfo, `shardInfo of range ${range.index}`);
      for (const item of list.items) assert.equal(rangeIndexOf(item.metadata.namespace, 12), range.index, keyOf(item));
      seen.push(...list.items.map(keyOf));
    }
    assert.deepEqual(seen.sort(), everything.map(keyOf).sort());
  });

  it('names that differ only at the end fall in one range, on the server as in our hash: the skew sharding by namespace must live with', async () => {
    for (const count of [3, 12, 256]) {
      const ranges = new Set<number>();
      for (const range of shardRanges(count)) {
        const list = await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: shardSelector(range) });
        if (list.items.some((item) => CLUSTERED.includes(item.metadata.namespace))) ranges.add(range.index);
      }
      assert.deepEqual([...ranges], [rangeIndexOf(CLUSTERED[0]!, count)], `tenant-000..009 over ${count} ranges`);
    }
  });

  it('pages (limit and continue, as our informers list) keep the selector and shardInfo on every page', async () => {
    const selector = shardSelector(shardRange(0, COUNT));
    const whole = (await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: selector })).items.map(keyOf).sort();
    const paged: string[] = [];
    let pages = 0;
    let token: string | undefined;
    do {
      const page = await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: selector, limit: '3', ...(token ? { continue: token } : {}) });
      assert.deepEqual(page.metadata.shardInfo, { selector }, `page ${pages}`);
      paged.push(...page.items.map(keyOf));
      token = page.metadata.continue || undefined;
      pages++;
    } while (token);
    assert.ok(pages > 1, `range 0 held ${whole.length} ConfigMaps: not enough for more than one page of 3`);
    assert.deepEqual(paged.sort(), whole);
  });

  it('a watch with the selector sends only the events of its range', async () => {
    const from = (await plane.kubectl(['get', '--raw', '/api/v1/configmaps?limit=1'])).stdout;
    const resourceVersion = (JSON.parse(from) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const second = NAMESPACES.map((ns) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'second', namespace: ns } }));
    const created = await plane.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: second }) });
    assert.equal(created.code, 0, created.stderr);
    // Watching from before the creations replays them: the answer does not depend on timing.
    // timeoutSeconds only ends the stream; what arrived is checked, not when.
    const range = shardRange(1, COUNT);
    const query = new URLSearchParams({ watch: '1', resourceVersion, timeoutSeconds: '2', shardSelector: shardSelector(range) });
    const watched = await plane.kubectl(['get', '--raw', `/api/v1/configmaps?${query.toString()}`]);
    assert.equal(watched.code, 0, watched.stderr);
    const events = watched.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; object: { metadata: { namespace: string; name: string } } });
    const added = events.filter((e) => e.type === 'ADDED' && e.object.metadata.name === 'second').map((e) => e.object.metadata.namespace);
    assert.deepEqual(added.sort(), NAMESPACES.filter((ns) => rangeIndexOf(ns, COUNT) === 1).sort());
  });

  it('several ranges joined by || are one selector, echoed in the same form', async () => {
    const selector = shardSelector(shardRange(0, COUNT), shardRange(2, COUNT));
    const list = await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: selector });
    assert.deepEqual(list.metadata.shardInfo, { selector });
    const expected = NAMESPACES.filter((ns) => rangeIndexOf(ns, COUNT) !== 1).map((ns) => `${ns}/probe`).sort();
    assert.deepEqual(list.items.map(keyOf).sort(), expected);
  });

  it("rejects a bound that is not 16 hex digits (the field's own doc example '0x0' included)", async () => {
    const query = new URLSearchParams({ shardSelector: "shardRange(object.metadata.namespace, '0x0', '0x8000000000000000')" });
    const res = await plane.kubectl(['get', '--raw', `/api/v1/configmaps?${query.toString()}`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /16-digit hex/);
  });
});

describe("shardSelector with the gate off (kube-apiserver's own default; the harness's when asked)", () => {
  let plane: ControlPlane;
  before(async () => {
    plane = await startPlane({ ShardedListAndWatch: false });
    assert.deepEqual(plane.featureGates, { ShardedListAndWatch: false });
  });
  after(async () => {
    await plane?.stop();
  });

  it('is ignored: every ConfigMap comes back and shardInfo is absent, so the client must filter', async () => {
    const selector = shardSelector(shardRange(0, COUNT));
    const list = await listConfigMaps(plane, { labelSelector: LABEL, shardSelector: selector });
    assert.equal(list.metadata.shardInfo, undefined);
    assert.equal(list.items.length, NAMESPACES.length);
    // What the client-side filter keeps is what the server would have sent with the gate on.
    const kept = list.items.filter((item) => rangeIndexOf(item.metadata.namespace, COUNT) === 0);
    assert.ok(kept.length > 0 && kept.length < NAMESPACES.length);
  });
});
