// The loop that makes a replica a member of its controller's shards: once per
// retry period it lists the member Leases, decides (shard-assignment.ts) which
// ranges to take, hand back or claim, acts on that, and writes its own Lease.
// Rounds never overlap, so each list follows the previous round's write, as the
// claim-then-hold protocol needs (docs/decisions/0010-shards.md).
import type { Logger } from 'pino';
import { type Clock, realClock } from './clock';
import type { MemberStore } from './member-leases';
import { decideAssignment } from './shard-assignment';
import { type SeenMember, isLiveMember, liveOthers, observeMembers } from './shard-members';

/** How a range stops being this replica's. */
export type RangeLoss = 'hand-back' | 'lost';

export interface ShardMembershipOptions {
  identity: string;
  shards: number;
  store: MemberStore;
  log: Logger;
  clock?: Clock;
  leaseDurationMs: number;
  /** Past this long without a committed write of its Lease, a replica lets go of everything (others may take it at the duration). */
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** A range is now held: start serving it (not awaited: a round must not wait for caches to list). */
  gain(range: number): void;
  /**
   * A range is no longer held. `hand-back`: finish in-flight work first, then
   * stop (the Lease is written without it after this resolves); `lost` (no
   * renewal past the deadline): stop writing at once.
   */
  lose(range: number, how: RangeLoss): Promise<void>;
  /** Why this replica refuses to share with some members (another EKSPOSE_SHARDS), or undefined once it does not. */
  onProblem?(problem: string | undefined): void;
  /** Another member's Lease unchanged for this long is removed (its replica is gone for good). Default 10 × the lease duration, at least 5 min. */
  removeStaleAfterMs?: number;
}

export interface ShardMembershipStatus {
  held: number[];
  claimed: number[];
  members: number;
  problem?: string;
  /** Local time of the last committed write of this replica's Lease. */
  lastRenewedAt?: number;
}

export class ShardMembership {
  private readonly clock: Clock;
  private held = new Set<number>();
  private claimed = new Set<number>();
  /** The claims as last committed: a claim whose write failed was never made. */
  private committedClaims = new Set<number>();
  private members = new Map<string, SeenMember>();
  private lastWrite?: number;
  private problem?: string;
  private timer?: unknown;
  private running = false;
  private round?: Promise<void>;

  constructor(private readonly opts: ShardMembershipOptions) {
    this.clock = opts.clock ?? realClock;
  }

  status(): ShardMembershipStatus {
    return {
      held: [...this.held].sort((a, b) => a - b),
      claimed: [...this.claimed].sort((a, b) => a - b),
      members: [...this.members.values()].filter((m) => isLiveMember(m, this.clock.now())).length,
      ...(this.problem ? { problem: this.problem } : {}),
      ...(this.lastWrite !== undefined ? { lastRenewedAt: this.lastWrite } : {}),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.next(0);
  }

  /** Runs one round now (tests drive the loop this way on a manual clock). */
  runRound(): Promise<void> {
    this.round ??= this.once().finally(() => (this.round = undefined));
    return this.round;
  }

  private next(delayMs: number): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      void this.runRound().finally(() => this.next(this.opts.retryPeriodMs));
    }, delayMs);
  }

  /** Hands every range back (their work drained), then removes this replica's Lease so others take them at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    await this.round;
    const held = [...this.held];
    this.held.clear();
    this.claimed.clear();
    await Promise.all(held.map((r) => this.opts.lose(r, 'hand-back')));
    try {
      await this.opts.store.remove();
      this.opts.log.info({ handedBack: held }, 'shard Lease removed: ranges free for the other replicas');
    } catch (err) {
      this.opts.log.warn({ err }, 'shard Lease not removed; the others take its ranges when it expires');
    }
  }

  private async once(): Promise<void> {
    const { log } = this.opts;
    const started = this.clock.now();
    // Not renewed for the deadline: the others may take these ranges once the duration passes. Stop writing now.
    if (this.held.size > 0 && this.lastWrite !== undefined && started - this.lastWrite > this.opts.renewDeadlineMs) {
      const lost = [...this.held];
      log.warn({ lost, sinceRenewMs: started - this.lastWrite }, 'shard Lease not renewed within the deadline: letting go of every range');
      this.held.clear();
      this.claimed.clear();
      this.committedClaims.clear();
      await Promise.all(lost.map((r) => this.opts.lose(r, 'lost')));
    }

    let listed = false;
    try {
      const leases = await this.opts.store.list();
      this.members = observeMembers(this.members, leases, this.clock.now());
      listed = true;
    } catch (err) {
      log.warn({ err }, 'cannot list the shard Leases; keeping what is held and renewing');
    }
    if (listed) await this.decide();

    const sent = this.clock.now();
    try {
      await this.opts.store.write({
        shards: this.opts.shards,
        held: [...this.held].sort((a, b) => a - b),
        claimed: [...this.claimed].sort((a, b) => a - b),
        leaseDurationMs: this.opts.leaseDurationMs,
      });
      // Counted from before the request: the others' countdown starts when they see it, later still.
      this.lastWrite = sent;
      this.committedClaims = new Set(this.claimed);
    } catch (err) {
      log.warn({ err }, 'shard Lease not written');
      // Rule (a) of the protocol: a claim that was not committed was never made.
      this.claimed = new Set([...this.claimed].filter((r) => this.committedClaims.has(r)));
    }
  }

  private async decide(): Promise<void> {
    const now = this.clock.now();
    const { identity, shards, log } = this.opts;
    // Not changed for the renew deadline: that replica has let go by itself (or is dead); its ranges may be claimed now and held at its expiry.
    const changedAt = (id: string) => this.members.get(id)?.changedAt ?? now;
    const others = liveOthers(this.members, identity, now).map((m) => ({
      identity: m.identity,
      shards: m.shards,
      held: m.held,
      claimed: m.claimed,
      stale: now - changedAt(m.identity) > this.opts.renewDeadlineMs,
    }));
    const decision = decideAssignment({
      identity,
      shards,
      mine: { held: [...this.held], claimed: [...this.committedClaims].filter((r) => this.claimed.has(r)) },
      others,
    });
    if (decision.problem !== this.problem) {
      if (decision.problem) log.warn({ problem: decision.problem }, 'not sharing with every replica');
      else if (this.problem) log.info('sharing with every replica again');
      this.problem = decision.problem;
      this.opts.onProblem?.(decision.problem);
    }
    if (decision.handBack.length > 0) {
      log.info({ handBack: decision.handBack, share: decision.share, members: others.length + 1 }, 'handing ranges back');
      for (const r of decision.handBack) this.held.delete(r);
      await Promise.all(decision.handBack.map((r) => this.opts.lose(r, 'hand-back')));
    }
    for (const r of decision.taken) {
      this.held.add(r);
      this.opts.gain(r);
    }
    if (decision.taken.length > 0) log.info({ taken: decision.taken, held: decision.held, share: decision.share, members: others.length + 1 }, 'ranges taken');
    this.held = new Set(decision.held);
    this.claimed = new Set(decision.claimed);
    this.removeStale(now);
  }

  /** Leases of replicas gone for good (killed, never back) would otherwise stay forever. */
  private removeStale(now: number): void {
    const after = this.opts.removeStaleAfterMs ?? Math.max(300_000, 10 * this.opts.leaseDurationMs);
    for (const member of this.members.values()) {
      const lease = member.lease;
      if (lease.identity === this.opts.identity || !lease.name || now - member.changedAt < after) continue;
      this.members.delete(lease.identity);
      this.opts.log.info({ lease: lease.name, unchangedForMs: now - member.changedAt }, 'removing the shard Lease of a replica long gone');
      this.opts.store.removeStale(lease.name, lease.version).catch((err: unknown) => this.opts.log.warn({ err, lease: lease.name }, 'stale shard Lease not removed'));
    }
  }
}
