// The loop that makes a replica a member of its controller's shards: once per
// retry period it lists the member Leases, decides (shard-assignment.ts) which
// ranges to take, hand back or claim, acts on that, and writes its own Lease.
// Rounds never overlap, so each list follows the previous round's write, as the
// claim-then-hold protocol needs (docs/decisions/0010-shards.md).
import type { Logger } from 'pino';
import { type Clock, TIMED_OUT, realClock, within } from '../base/clock';
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
  /** Handed back, their in-flight work ending: still listed as held (nobody may take them yet), no longer decided on. */
  private readonly draining = new Set<number>();
  private claimed = new Set<number>();
  /** Fires at the renew deadline after the last committed write: every range is let go then, whatever a round is waiting for. */
  private deadline?: unknown;
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

  /**
   * The time fence of the write guard: the Lease was renewed within the renew
   * deadline. Past it, others may take these ranges soon, so no write goes out
   * even before the deadline timer has let them go.
   */
  fresh(): boolean {
    return this.lastWrite !== undefined && this.clock.now() - this.lastWrite <= this.opts.renewDeadlineMs;
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
    await Promise.all([...held.map((r) => this.opts.lose(r, 'hand-back')), ...this.drains.values()]);
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    try {
      await this.opts.store.remove();
      this.opts.log.info({ handedBack: held }, 'shard Lease removed: ranges free for the other replicas');
    } catch (err) {
      this.opts.log.warn({ err }, 'shard Lease not removed; the others take its ranges when it expires');
    }
  }

  /** Ranges being drained, each until its work has ended. */
  private readonly drains = new Map<number, Promise<void>>();

  /** A store call bounded well inside the renew deadline: a request that hangs counts as failed. */
  private async bounded<T>(what: string, call: Promise<T>): Promise<T> {
    const limit = Math.max(this.opts.retryPeriodMs, this.opts.renewDeadlineMs / 2);
    const result = await within(call, limit, this.clock);
    if (result === TIMED_OUT) throw new Error(`${what} took longer than ${limit} ms`);
    return result;
  }

  /** Every range let go at once, writes refused from now (the Lease is not renewed, or is held twice). */
  private letGoOfAll(why: string): void {
    const lost = [...this.held];
    this.held.clear();
    this.claimed.clear();
    this.committedClaims.clear();
    if (lost.length === 0) return;
    this.opts.log.warn({ lost, why }, 'letting go of every range');
    for (const r of lost) void this.opts.lose(r, 'lost').catch((err: unknown) => this.opts.log.error({ err, range: r }, 'range not let go cleanly'));
  }

  private armDeadline(): void {
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    this.deadline = this.clock.setTimeout(() => {
      if (this.running && !this.fresh()) this.letGoOfAll(`shard Lease not renewed for the renew deadline (${this.opts.renewDeadlineMs} ms)`);
    }, this.opts.renewDeadlineMs + 1);
  }

  private async once(): Promise<void> {
    const { log } = this.opts;
    // Not renewed for the deadline (the timer may not have run yet, a stalled loop): the others may take these ranges soon.
    if (this.held.size > 0 && !this.fresh()) this.letGoOfAll('shard Lease not renewed within the renew deadline');

    let listed = false;
    try {
      const leases = await this.bounded('listing the shard Leases', this.opts.store.list());
      this.members = observeMembers(this.members, leases, this.clock.now());
      listed = true;
    } catch (err) {
      log.warn({ err }, 'cannot list the shard Leases; keeping what is held and renewing');
    }
    if (listed) this.decide();

    const sent = this.clock.now();
    const previous = this.lastWrite;
    try {
      await this.bounded('writing the shard Lease', this.opts.store.write({
        shards: this.opts.shards,
        // Draining ranges stay listed: nobody may take a range while its work here has not ended.
        held: [...new Set([...this.held, ...this.draining])].sort((a, b) => a - b),
        claimed: [...this.claimed].sort((a, b) => a - b),
        leaseDurationMs: this.opts.leaseDurationMs,
      }));
      // Counted from before the request: the others' countdown starts when they see it, later still.
      this.lastWrite = sent;
      this.committedClaims = new Set(this.claimed);
      this.armDeadline();
      // A gap past the deadline before this write: others may have seen the Lease stale and claimed; what was held is let go.
      if (previous !== undefined && sent - previous > this.opts.renewDeadlineMs && this.held.size > 0) this.letGoOfAll('the renewal came after the renew deadline');
    } catch (err) {
      log.warn({ err }, 'shard Lease not written');
      // Rule (a) of the protocol: a claim that was not committed was never made.
      this.claimed = new Set([...this.claimed].filter((r) => this.committedClaims.has(r)));
    }
  }

  private decide(): void {
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
      mine: { held: [...this.held], claimed: [...this.committedClaims].filter((r) => this.claimed.has(r) && !this.draining.has(r)) },
      others,
    });
    if (decision.problem !== this.problem) {
      if (decision.problem) log.warn({ problem: decision.problem }, 'not sharing with every replica');
      else if (this.problem) log.info('sharing with every replica again');
      this.problem = decision.problem;
      this.opts.onProblem?.(decision.problem);
    }
    // Held by another live member too (clocks far apart, a Lease edited by hand): not one more write for them.
    for (const r of decision.conflicted) {
      this.held.delete(r);
      void this.opts.lose(r, 'lost').catch((err: unknown) => log.error({ err, range: r }, 'range not let go cleanly'));
    }
    if (decision.conflicted.length > 0) log.warn({ conflicted: decision.conflicted }, 'ranges held by another replica too: let go at once');
    const handBack = decision.handBack.filter((r) => !decision.conflicted.includes(r));
    if (handBack.length > 0) {
      log.info({ handBack, share: decision.share, members: others.length + 1 }, 'handing ranges back');
      // Drained outside the round, so renewals go on meanwhile; listed as held until the drain is over.
      for (const r of handBack) {
        this.held.delete(r);
        this.draining.add(r);
        const drain = this.opts
          .lose(r, 'hand-back')
          .catch((err: unknown) => log.error({ err, range: r }, 'range not handed back cleanly'))
          .finally(() => {
            this.draining.delete(r);
            this.drains.delete(r);
          });
        this.drains.set(r, drain);
      }
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

  /** Stale Leases asked to be deleted, by name, and when: one attempt per `removeStaleAfterMs`, not one a round. */
  private readonly removals = new Map<string, number>();

  /**
   * Leases of replicas gone for good (killed, never back) would otherwise stay
   * forever. The member is not forgotten here: it stays in `members`, expired,
   * until a list no longer shows its Lease (deleted: 200 or 404). Forgotten
   * before that, a delete that failed (RBAC, 5xx, an admission policy) would
   * make the next list see the Lease as new, live for a lease duration, and
   * the ranges it lists held twice.
   */
  private removeStale(now: number): void {
    const after = this.opts.removeStaleAfterMs ?? Math.max(300_000, 10 * this.opts.leaseDurationMs);
    const listed = new Set([...this.members.values()].map((m) => m.lease.name));
    for (const name of this.removals.keys()) if (!listed.has(name)) this.removals.delete(name);
    for (const member of this.members.values()) {
      const lease = member.lease;
      if (lease.identity === this.opts.identity || !lease.name || now - member.changedAt < after) continue;
      const tried = this.removals.get(lease.name);
      if (tried !== undefined && now - tried < after) continue;
      this.removals.set(lease.name, now);
      this.opts.log.info({ lease: lease.name, unchangedForMs: now - member.changedAt }, 'removing the shard Lease of a replica long gone');
      this.opts.store.removeStale(lease.name, lease.version).catch((err: unknown) => this.opts.log.warn({ err, lease: lease.name }, 'stale shard Lease not removed; kept as expired, tried again later'));
    }
  }
}
