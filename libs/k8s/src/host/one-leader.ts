// EKSPOSE_SHARDS=1: one replica leads through the Lease `ekspose-<controller>`
// and does all the work; the others stand by with warm caches. A leader that
// loses its Lease stands by again (its queue dropped), and leads again when it
// wins it back; its writes are fenced by the Lease's right to write.
import { statusCodeOf } from '../api/api-errors';
import { LeaderElector, kubernetesLeaseStore } from '../lease/leader-election';
import { FenceDownError } from '../lease/write-fence';
import type { Reconciler } from '../queue/work-queue';
import { type SeenMember, isLiveMember, observeMembers } from '../shards/shard-members';
import { type StrategyContext, type WorkStrategy, bounded, memberLeases } from './work-strategy';

export class OneLeader implements WorkStrategy {
  private elector?: LeaderElector;
  private term = false;
  /** The pause of the queue after a lost Lease, which a new term waits for. */
  private standingDown: Promise<void> = Promise.resolve();
  /**
   * When (monotonic) this process was first refused the list of Leases (HTTP 403): the Role
   * of shards 1 grants none. Sharded replicas of the same ServiceAccount (a roll from N shards
   * to 1 whose Role narrowed under them) cannot renew since then at the latest, so their
   * fences are down within a renew deadline of it.
   */
  private leaseListRefusedAt?: number;

  constructor(private readonly ctx: StrategyContext) {}

  get leading(): boolean {
    return this.term;
  }

  accepts(): boolean {
    return true;
  }

  details(): Record<string, unknown> {
    const problem = this.elector?.problem;
    return problem ? { lease: problem } : {};
  }

  /** A leader-to-be asks early whether it may list Leases, so the wait a refusal calls for runs while the caches sync. */
  async prepare(): Promise<void> {
    if (!this.ctx.settings.leaderElection) return;
    try {
      await this.letGoStore()?.list();
    } catch (err) {
      if (statusCodeOf(err) === 403) this.leaseListRefusedAt ??= performance.now();
    }
  }

  private letGoStore() {
    return this.ctx.memberStore ?? (this.ctx.leaseStore ? undefined : memberLeases(this.ctx));
  }

  start(): void {
    const { settings, log, name } = this.ctx;
    if (!settings.leaderElection) {
      // No Lease decides: this replica is the only one by design.
      this.ctx.fence.hold();
      this.startLeading();
      return;
    }
    const leaseName = `ekspose-${name}`;
    this.elector = new LeaderElector({
      store: this.ctx.leaseAccess.leaseStore(this.ctx.leaseStore ?? kubernetesLeaseStore(this.ctx.clients.coordination, settings.podNamespace, leaseName)),
      identity: settings.identity,
      leaseDurationMs: settings.leaseDurationSeconds * 1000,
      renewDeadlineMs: settings.leaseRenewDeadlineSeconds * 1000,
      retryPeriodMs: settings.leaseRetryPeriodSeconds * 1000,
      log: log.child({ lease: `${settings.podNamespace}/${leaseName}` }),
      metrics: this.ctx.metrics,
      fence: this.ctx.fence,
      onStartedLeading: () => this.startLeading(),
      onStoppedLeading: () => this.stoppedLeading(),
    });
    log.info({ lease: `${settings.podNamespace}/${leaseName}`, identity: settings.identity }, 'waiting for leadership');
    this.elector.start();
  }

  /** The work in flight ends first; then the Lease is released, so a standby takes over at once. */
  async stop(shutdownQueue: () => Promise<void>): Promise<void> {
    await shutdownQueue();
    if (this.elector) await bounded(this.elector.stop(), 3_000, () => this.ctx.log.warn('lease not released in time'));
    this.term = false;
  }

  private startLeading(): void {
    if (this.term || this.ctx.stopping()) return;
    this.term = true;
    this.ctx.metrics.setLeader(true);
    this.ctx.log.info({ identity: this.ctx.settings.identity }, 'started leading');
    // A term that follows a lost one starts once the old term's reconciles have ended,
    // and once no sharded replica of this controller still holds or claims a range.
    void this.standingDown.then(() => this.shardsLetGo()).then(() => {
      if (!this.term || this.ctx.stopping()) return;
      this.ctx.onStartedLeading?.();
      this.ctx.queue.start(this.fencedReconcile());
      this.ctx.startResync(true);
    });
  }

  /**
   * A write refused by the fence (the Lease's renewal not answered yet past the
   * renew deadline of the last one) is tried again a retry period later; if
   * leadership is lost meanwhile the paused queue drops it.
   */
  private fencedReconcile(): Reconciler {
    const retryMs = this.ctx.settings.leaseRetryPeriodSeconds * 1000;
    return async (key) => {
      try {
        return await this.ctx.reconcile(key);
      } catch (err) {
        if (err instanceof FenceDownError) return { kind: 'requeueAfter', delayMs: retryMs };
        throw err;
      }
    };
  }

  /**
   * Waits while a live member Lease of this controller lists held or claimed
   * ranges: replicas with EKSPOSE_SHARDS > 1 see this leader's Lease, withdraw
   * their claims and hand their ranges back (a claim made from a list taken
   * before this Lease existed could still become a hold); a Lease left by a
   * killed one stops counting when it expires. Never two writers for one
   * namespace during a rolling update from N to 1.
   */
  private async shardsLetGo(): Promise<void> {
    const { settings, log } = this.ctx;
    const store = this.letGoStore();
    if (!store) return;
    let seen = new Map<string, SeenMember>();
    let told = false;
    while (this.term && !this.ctx.stopping()) {
      try {
        const members = (await store.list()).filter((m) => !m.leader);
        const now = performance.now();
        seen = observeMembers(seen, members, now);
        const holding = [...seen.values()].filter((m) => isLiveMember(m, now) && m.lease.held.length + m.lease.claimed.length > 0).map((m) => m.lease.identity);
        if (holding.length === 0) return;
        if (!told) log.warn({ holding }, 'replicas with EKSPOSE_SHARDS > 1 still hold or claim ranges: waiting for them to let go before working');
        told = true;
      } catch (err) {
        if (statusCodeOf(err) === 403) {
          // Not allowed to list Leases: the Role of shards 1. No replica can serve a range under it
          // (membership needs the same list and its own member Lease), but one of a roll from N shards
          // to 1, whose Role narrowed under it, writes on until its renew deadline after its last renewal.
          this.leaseListRefusedAt ??= performance.now();
          const waitMs = this.leaseListRefusedAt + settings.leaseRenewDeadlineSeconds * 1000 - performance.now();
          if (waitMs <= 0) return;
          if (!told) log.info({ waitMs: Math.round(waitMs) }, 'may not list Leases (shards 1): waiting out the renew deadline of any sharded replica before working');
          told = true;
          await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, settings.leaseRetryPeriodSeconds * 1000)));
          continue;
        }
        log.warn({ err }, 'cannot list the shard Leases; waiting before working');
      }
      await new Promise((resolve) => setTimeout(resolve, settings.leaseRetryPeriodSeconds * 1000));
    }
  }

  /**
   * The Lease was lost (the API server unreachable past the renew deadline, or
   * taken over): this replica goes back to being an idle standby, as a fresh
   * one would be. Its work stops, its queue is dropped, its informers keep
   * running, and it leads again when it wins the Lease. Exiting instead would
   * turn every control-plane outage into a restart of every controller pod,
   * and a long one into CrashLoopBackOff.
   */
  private stoppedLeading(): void {
    this.ctx.metrics.setLeader(false);
    if (!this.term || this.ctx.stopping()) return;
    this.term = false;
    this.ctx.log.warn('lost leadership; standing by');
    this.ctx.stopResync();
    this.standingDown = this.ctx.queue.pause({ timeoutMs: this.ctx.shutdownTimeoutMs ?? 7_000 }).then(() => {
      this.ctx.onStoppedLeading?.();
      this.ctx.log.info('standing by: work stopped, queue dropped, informers kept');
    });
  }
}
