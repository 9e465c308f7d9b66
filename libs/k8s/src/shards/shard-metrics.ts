// The metrics of a sharded replica (EKSPOSE_SHARDS > 1): what it serves, how its
// caches are filtered, how many replicas share, hand-overs and refusals.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { InformerStatus } from '../cache/informer';
import type { ShardMembership } from './shard-membership';
import type { ShardedWork } from './sharded-work';

/** ekspose_shard_*: ranges held, whether the server applies the selector, members, hand-overs, and a refusal to share. */
export function shardMetrics(o: {
  registry: Registry;
  controller: string;
  /** EKSPOSE_SHARDS: how many ranges the replicas of this controller must serve between them. */
  shards: number;
  informers: ReadonlyArray<{ status(): InformerStatus }>;
  work: ShardedWork;
  membership: () => ShardMembership | undefined;
}) {
  const { registry, controller: name, shards, informers, work, membership } = o;
  const existing = registry.getSingleMetric('ekspose_shard_handovers_total') as Counter<'controller' | 'direction'> | undefined;
  if (existing) return { handovers: existing, refused: registry.getSingleMetric('ekspose_shard_refused') as Gauge<'controller'> };
  new Gauge({
    name: 'ekspose_shard_ranges_held',
    help: 'Hash ranges of the namespaces this replica serves now (EKSPOSE_SHARDS > 1).',
    labelNames: ['controller'],
    registers: [registry],
    collect() {
      this.set({ controller: name }, work.serving.length);
    },
  });
  // Beside ranges_held: sum(held) over the replicas below max(count) is a range served by nobody (EksposeShardRangeUnserved).
  new Gauge({ name: 'ekspose_shard_count', help: 'EKSPOSE_SHARDS of this replica: the ranges its controller’s replicas serve between them.', labelNames: ['controller'], registers: [registry] }).set({ controller: name }, shards);
  new Gauge({
    name: 'ekspose_shard_server_side',
    help: "1 when the API server applied the shard selector to this cache's last list (ShardedListAndWatch on), 0 when this replica filtered the full list itself.",
    labelNames: ['controller', 'resource'],
    registers: [registry],
    collect() {
      for (const s of informers.map((i) => i.status())) {
        if (s.serverSide !== undefined) this.set({ controller: name, resource: s.resource }, s.serverSide ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'ekspose_shard_members',
    help: 'Live replicas sharing the ranges, as this replica sees them.',
    labelNames: ['controller'],
    registers: [registry],
    collect() {
      this.set({ controller: name }, membership()?.status().members ?? 0);
    },
  });
  const handovers = new Counter({
    name: 'ekspose_shard_handovers_total',
    help: 'Ranges this replica started serving (gained), handed back (hand-back) or let go of unrenewed (lost).',
    labelNames: ['controller', 'direction'],
    registers: [registry],
  });
  const refused = new Gauge({
    name: 'ekspose_shard_refused',
    help: 'Warning: 1 while a live replica runs with another EKSPOSE_SHARDS; the two counts never split the space at once, and one of them serves nothing.',
    labelNames: ['controller'],
    registers: [registry],
  });
  refused.set({ controller: name }, 0);
  return { handovers, refused };
}
