// EKSPOSE_SHARDS > 1: no leader; every replica serves the ranges its member
// Lease holds (docs/decisions/0010-shards.md). The queue runs from the start
// and takes only keys of served ranges; the membership loop gains and hands
// back ranges; a write for a range not served is refused by the guard.
import { ShardMembership } from '../shards/shard-membership';
import type { MemberStore } from '../shards/member-leases';
import type { ShardedWork } from '../shards/sharded-work';
import { shardMetrics } from '../shards/shard-metrics';
import { type StrategyContext, type WorkStrategy, bounded, memberLeases } from './work-strategy';

export class Shards implements WorkStrategy {
  private membership?: ShardMembership;
  private started = false;

  constructor(
    private readonly ctx: StrategyContext,
    private readonly sharding: { work: ShardedWork; store?: MemberStore },
  ) {}

  /** Every replica takes part from its start. */
  get leading(): boolean {
    return this.started;
  }

  accepts(key: string): boolean {
    return this.sharding.work.accepts(key);
  }

  details(): Record<string, unknown> {
    if (!this.membership) return {};
    return { shards: { count: this.ctx.settings.shards, serving: this.sharding.work.serving, ...this.membership.status() } };
  }

  start(): void {
    const { settings, log, name, fence } = this.ctx;
    const { work, store } = this.sharding;
    // One clock for the right to write: the work's guard must read the fence this host's membership renews.
    if (work.writeFence !== fence) throw new Error('ShardedWork was made without the host\'s WriteFence (ShardedWorkOptions.fence): its writes would not be fenced');
    const metrics = shardMetrics({ registry: this.ctx.registry, controller: name, shards: settings.shards, informers: this.ctx.informers, work, membership: () => this.membership });
    work.onHandover = (direction, range) => {
      metrics.handovers.inc({ controller: name, direction });
      // With shards "leader" means serving some range: EksposeNoLeader then fires when no replica serves anything.
      this.ctx.metrics.setLeader(work.serving.length > 0);
      // Per-key state (tombstones, graces, Warnings told, deletions witnessed) goes with its range: its next holder starts afresh.
      if (direction !== 'gained') this.ctx.onRangeLetGo?.((key) => work.rangeOfKey(key) === range);
    };
    this.membership = new ShardMembership({
      identity: settings.identity,
      shards: settings.shards,
      store: this.ctx.leaseAccess.memberStore(store ?? memberLeases(this.ctx)),
      log: log.child({ shards: settings.shards }),
      leaseDurationMs: settings.leaseDurationSeconds * 1000,
      renewDeadlineMs: settings.leaseRenewDeadlineSeconds * 1000,
      retryPeriodMs: settings.leaseRetryPeriodSeconds * 1000,
      work,
      fence,
      onProblem: (problem) => metrics.refused.set({ controller: name }, problem ? 1 : 0),
    });
    this.started = true;
    this.ctx.metrics.setLeader(false);
    this.ctx.onStartedLeading?.();
    this.ctx.queue.start(work.reconciler(this.ctx.reconcile, settings.leaseRetryPeriodSeconds * 1000));
    log.info({ shards: settings.shards, identity: settings.identity }, 'sharing the work: taking ranges through the member Leases');
    this.membership.start();
    // Each range queues its keys when it is served; a resync then repeats them.
    this.ctx.startResync(false);
  }

  /** Ranges handed back (their work drained) and the member Lease removed first: the others take them at their next round. */
  async stop(shutdownQueue: () => Promise<void>): Promise<void> {
    if (this.membership) await bounded(this.membership.stop(), 5_000, () => this.ctx.log.warn('ranges not handed back in time; they are taken when the Lease expires'));
    await shutdownQueue();
    this.started = false;
  }
}
