// The loop that makes a replica a member of its controller's shards: once per
// retry period it lists the member Leases, decides (shard-assignment.ts) which
// ranges to take, hand back or claim, acts on that, and writes its own Lease.
// Rounds never overlap, so each list follows the previous round's write, as the
// claim-then-hold protocol needs (docs/decisions/0010-shards.md).
import type { Logger } from 'pino';
import { type Clock, type TimerHandle, TIMED_OUT, realClock, within } from '../base/clock';
import { WriteFence } from '../lease/write-fence';
import type { MemberStore } from './member-leases';
import type { RangeLifecycle } from './range-lifecycle';
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
  /** What serves the ranges (ShardedWork): their phases, and the steps that start and end them. */
  work: RangeWork;
  /** The right to write, moved on each committed renewal; the write guard checks it. One is made when not given. */
  fence?: WriteFence;
  /** Why this replica refuses to share with some members (another EKSPOSE_SHARDS), or undefined once it does not. */
  onProblem?(problem: string | undefined): void;
  /** Another member's Lease unchanged for this long is removed (its replica is gone for good). Default 10 × the lease duration, at least 5 min. */
  removeStaleAfterMs?: number;
}

/** The side that serves the ranges: the membership claims in its phases and calls these to start and end them. */
export interface RangeWork {
  readonly ranges: RangeLifecycle;
  /** A claimed range is now held: start serving it (not awaited: a round must not wait for caches to list). */
  gain(range: number): void;
  /**
   * A range is no longer held. `hand-back`: finish in-flight work first, then
   * stop (the Lease is written without it after this resolves); `lost` (no
   * renewal past the deadline): stop writing at once. The range stays busy
   * (not claimable) until this resolves.
   */
  lose(range: number, how: RangeLoss): Promise<void>;
}

export interface ShardMembershipStatus {
  held: number[];
  claimed: number[];
  members: number;
  problem?: string;
  /** Wall time of the last committed write of this replica's Lease (for people; nothing is decided on it). */
  lastRenewedAt?: number;
}

export class ShardMembership {
  private readonly clock: Clock;
  /** The right to write: valid until the renew deadline after the send time of the last committed renewal. */
  readonly fence: WriteFence;
  /** Fires at the renew deadline after the last committed write: every range is let go then, whatever a round is waiting for. */
  private deadline?: TimerHandle;
  /** The claims as last committed: a claim whose write failed was never made. */
  private committedClaims = new Set<number>();
  private members = new Map<string, SeenMember>();
  private lastRenewedWall?: number;
  private problem?: string;
  private timer?: TimerHandle;
  private running = false;
  private round?: Promise<void>;
  /** Ranges being let go, each until its work has ended. */
  private readonly drains = new Map<number, Promise<void>>();

  constructor(private readonly opts: ShardMembershipOptions) {
    this.clock = opts.clock ?? realClock;
    this.fence = opts.fence ?? new WriteFence(opts.renewDeadlineMs, this.clock);
  }

  private get ranges(): RangeLifecycle {
    return this.opts.work.ranges;
  }

  /** Held: starting or serving (what the loop decides on). */
  private held(): number[] {
    return this.ranges.inPhase('starting', 'serving');
  }

  /**
   * The time fence of the write guard: the Lease was renewed within the renew
   * deadline (monotonic). Past it, others may take these ranges soon, so no
   * write goes out even before the deadline timer has let them go.
   */
  fresh(): boolean {
    return this.fence.valid();
  }

  status(): ShardMembershipStatus {
    return {
      held: this.held(),
      claimed: this.ranges.inPhase('claimed'),
      members: [...this.members.values()].filter((m) => isLiveMember(m, this.clock.monotonic())).length,
      ...(this.problem ? { problem: this.problem } : {}),
      ...(this.lastRenewedWall !== undefined ? { lastRenewedAt: this.lastRenewedWall } : {}),
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
    const held = this.held();
    for (const r of this.ranges.inPhase('claimed')) this.ranges.withdraw(r);
    for (const r of held) this.letGo(r, 'hand-back');
    await Promise.all(this.drains.values());
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    this.fence.revoke();
    try {
      await this.opts.store.remove();
      this.opts.log.info({ handedBack: held }, 'shard Lease removed: ranges free for the other replicas');
    } catch (err) {
      this.opts.log.warn({ err }, 'shard Lease not removed; the others take its ranges when it expires');
    }
  }

  /** A store call bounded well inside the renew deadline: a request that hangs counts as failed. */
  private async bounded<T>(what: string, call: Promise<T>): Promise<T> {
    const limit = Math.max(this.opts.retryPeriodMs, this.opts.renewDeadlineMs / 2);
    const result = await within(call, limit, this.clock);
    if (result === TIMED_OUT) throw new Error(`${what} took longer than ${limit} ms`);
    return result;
  }

  /** Starts letting a range go; it stays busy (not claimable) until its work has ended. */
  private letGo(range: number, how: RangeLoss): void {
    const drain = this.opts.work
      .lose(range, how)
      .catch((err: unknown) => this.opts.log.error({ err, range, how }, 'range not let go cleanly'))
      .finally(() => {
        if (this.drains.get(range) === drain) this.drains.delete(range);
      });
    this.drains.set(range, drain);
  }

  /** Every range let go at once, writes refused from now (the Lease is not renewed, or is held twice). */
  private letGoOfAll(why: string): void {
    this.fence.revoke();
    for (const r of this.ranges.inPhase('claimed')) this.ranges.withdraw(r);
    this.committedClaims.clear();
    // Draining ones too: their in-flight work must not write past the deadline either.
    const lost = this.ranges.inPhase('starting', 'serving', 'draining');
    if (lost.length === 0) return;
    this.opts.log.warn({ lost, why }, 'letting go of every range');
    for (const r of lost) this.letGo(r, 'lost');
  }

  private armDeadline(): void {
    if (this.deadline) this.clock.clearTimeout(this.deadline);
    this.deadline = this.clock.setTimeout(() => {
      if (this.running && !this.fresh()) this.letGoOfAll(`shard Lease not renewed for the renew deadline (${this.opts.renewDeadlineMs} ms)`);
    }, this.opts.renewDeadlineMs + 1);
  }

  /** Past the right to write (a stalled loop, a pause of the process): let go before acting on anything read before. */
  private checkFence(when: string): void {
    if (this.ranges.inPhase('starting', 'serving', 'draining').length > 0 && !this.fresh()) this.letGoOfAll(`shard Lease not renewed within the renew deadline (${when})`);
  }

  private async once(): Promise<void> {
    const { log } = this.opts;
    // Not renewed for the deadline (the timer may not have run yet, a stalled loop): the others may take these ranges soon.
    this.checkFence('before the round');

    let listed = false;
    // Expiry is judged as of the list's send time: the list shows no renewal made after then, even one read late.
    const listSent = this.clock.monotonic();
    try {
      const leases = await this.bounded('listing the shard Leases', this.opts.store.list());
      // A new version is counted from its answer: it may have been written just before.
      this.members = observeMembers(this.members, leases, this.clock.monotonic());
      listed = true;
    } catch (err) {
      log.warn({ err }, 'cannot list the shard Leases; keeping what is held and renewing');
    }
    // The list may have been read before a pause: nothing held past the fence is decided on or written as held.
    this.checkFence('after listing');
    if (listed) this.decide(listSent);

    // Checked again right before the write goes out: the Lease never lists as held a range this replica may no longer write for.
    this.checkFence('before writing');
    const sent = this.clock.monotonic();
    const claimed = this.ranges.inPhase('claimed');
    try {
      await this.bounded('writing the shard Lease', this.opts.store.write({
        shards: this.opts.shards,
        // Draining ranges stay listed: nobody may take a range while its work here has not ended.
        held: this.ranges.inPhase('starting', 'serving', 'draining'),
        claimed,
        leaseDurationMs: this.opts.leaseDurationMs,
      }));
      this.lastRenewedWall = this.clock.now();
      this.committedClaims = new Set(claimed);
      // Counted from before the request: the others' countdown starts when they see it, later still.
      this.fence.renewed(sent);
      this.armDeadline();
    } catch (err) {
      log.warn({ err }, 'shard Lease not written');
      // Rule (a) of the protocol: a claim that was not committed was never made.
      for (const r of claimed) if (!this.committedClaims.has(r)) this.ranges.withdraw(r);
    }
  }

  private decide(now: number): void {
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
      mine: {
        held: this.held(),
        claimed: this.ranges.inPhase('claimed').filter((r) => this.committedClaims.has(r)),
        // Being let go here (drained or lost, work still ending): not to be claimed again before that ends.
        leaving: this.ranges.inPhase('draining', 'lost'),
      },
      others,
    });
    if (decision.problem !== this.problem) {
      if (decision.problem) log.warn({ problem: decision.problem }, 'not sharing with every replica');
      else if (this.problem) log.info('sharing with every replica again');
      this.problem = decision.problem;
      this.opts.onProblem?.(decision.problem);
    }
    // Held by another live member too (clocks far apart, a Lease edited by hand): not one more write for them.
    for (const r of decision.conflicted) this.letGo(r, 'lost');
    if (decision.conflicted.length > 0) log.warn({ conflicted: decision.conflicted }, 'ranges held by another replica too: let go at once');
    const handBack = decision.handBack.filter((r) => !decision.conflicted.includes(r));
    if (handBack.length > 0) {
      log.info({ handBack, share: decision.share, members: others.length + 1 }, 'handing ranges back');
      // Drained outside the round, so renewals go on meanwhile; listed as held until the drain is over.
      for (const r of handBack) this.letGo(r, 'hand-back');
    }
    for (const r of decision.withdrawn) this.ranges.withdraw(r);
    for (const r of this.ranges.inPhase('claimed')) if (!decision.claimed.includes(r) && !decision.taken.includes(r)) this.ranges.withdraw(r);
    for (const r of decision.taken) this.opts.work.gain(r);
    if (decision.taken.length > 0) log.info({ taken: decision.taken, held: decision.held, share: decision.share, members: others.length + 1 }, 'ranges taken');
    for (const r of decision.claimed) this.ranges.claim(r);
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
