import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideAssignment, preference, type Assignment, type OwnRanges } from './shard-assignment';
import { type MemberLease, type SeenMember, isLiveMember, liveOthers, observeMembers } from './shard-members';
import { ManualClock } from '../base/manual-clock';

const LEASE_MS = 15_000;
const RETRY_MS = 1_000;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * Replicas taking turns on one manual clock over an in-memory list of Leases.
 * A round is: list every Lease, judge who is live, decide, write the own Lease.
 * decide() and commit() are apart so tests can interleave two replicas' rounds.
 */
class Cluster {
  readonly clock = new ManualClock();
  /** Committed Leases, with the true time of their last write (for the invariant only). */
  readonly leases = new Map<string, { lease: MemberLease; writtenAt: number }>();
  private readonly replicas = new Map<string, { shards: number; seen: Map<string, SeenMember>; mine: OwnRanges; running: boolean }>();
  private version = 0;
  readonly log: Array<{ identity: string; at: number; assignment: Assignment }> = [];

  add(identity: string, shards = 12): void {
    this.replicas.set(identity, { shards, seen: new Map(), mine: { held: [], claimed: [] }, running: true });
  }

  /** kill -9: no more rounds, no release; its Lease stays until it expires. */
  kill(identity: string): void {
    this.replicas.get(identity)!.running = false;
  }

  /** A clean stop: the Lease is released, holding nothing. */
  stop(identity: string): void {
    this.kill(identity);
    this.write(identity, { held: [], claimed: [] }, true);
  }

  decide(identity: string): Assignment {
    const r = this.replicas.get(identity)!;
    const now = this.clock.now();
    r.seen = observeMembers(r.seen, [...this.leases.values()].map((l) => l.lease), now);
    const others = liveOthers(r.seen, identity, now);
    return decideAssignment({ identity, shards: r.shards, mine: r.mine, others });
  }

  /** Drain is instant here: handed-back ranges are left out of the write at once. */
  commit(identity: string, a: Assignment): void {
    this.write(identity, { held: a.held, claimed: a.claimed }, false);
    this.log.push({ identity, at: this.clock.now(), assignment: a });
    this.checkExclusive();
  }

  round(identity: string): Assignment {
    const a = this.decide(identity);
    this.commit(identity, a);
    return a;
  }

  /** Every running replica once, in name order, then one retry period passes. */
  rounds(count: number): void {
    for (let i = 0; i < count; i++) {
      for (const [id, r] of [...this.replicas].sort(([a], [b]) => a.localeCompare(b))) if (r.running) this.round(id);
      this.clock.advance(RETRY_MS);
    }
  }

  held(identity: string): readonly number[] {
    return this.replicas.get(identity)!.mine.held;
  }

  /** The invariant: no range held in two Leases that are not expired by true time. */
  checkExclusive(): void {
    const now = this.clock.now();
    const holders = new Map<number, string>();
    for (const { lease, writtenAt } of this.leases.values()) {
      if (lease.released || writtenAt + lease.leaseDurationMs <= now) continue;
      for (const r of lease.held) {
        assert.equal(holders.get(r), undefined, `range ${r} held by ${holders.get(r)} and ${lease.identity} at ${now}`);
        holders.set(r, lease.identity);
      }
    }
  }

  private write(identity: string, mine: OwnRanges, released: boolean): void {
    const r = this.replicas.get(identity)!;
    r.mine = { held: [...mine.held], claimed: [...mine.claimed] };
    const lease: MemberLease = { identity, shards: r.shards, ...r.mine, leaseDurationMs: LEASE_MS, released, version: String(++this.version) };
    this.leases.set(identity, { lease, writtenAt: this.clock.now() });
  }
}

describe('decideAssignment', () => {
  it('alone: claims every range, then holds them all on the next round', () => {
    const first = decideAssignment({ identity: 'a', shards: 12, mine: { held: [], claimed: [] }, others: [] });
    assert.deepEqual(first, { share: 12, held: [], taken: [], handBack: [], conflicted: [], claimed: range(0, 12), withdrawn: [] });
    const second = decideAssignment({ identity: 'a', shards: 12, mine: { held: [], claimed: range(0, 12) }, others: [] });
    assert.deepEqual(second, { share: 12, held: range(0, 12), taken: range(0, 12), handBack: [], conflicted: [], claimed: [], withdrawn: [] });
  });

  it('above its share: keeps the lowest ranges and hands back the highest', () => {
    const a = decideAssignment({
      identity: 'a',
      shards: 12,
      mine: { held: range(0, 12), claimed: [] },
      others: [
        { identity: 'b', shards: 12, held: [], claimed: [] },
        { identity: 'c', shards: 12, held: [], claimed: [] },
      ],
    });
    assert.equal(a.share, 4);
    assert.deepEqual(a.held, range(0, 4));
    assert.deepEqual(a.handBack, range(4, 12));
  });

  it('never claims a range it is still letting go of itself (its work ending): it is claimed once free', () => {
    const a = decideAssignment({ identity: 'a', shards: 4, mine: { held: [], claimed: [], leaving: [0, 2] }, others: [] });
    assert.deepEqual(a.claimed, [1, 3]);
    assert.deepEqual(decideAssignment({ identity: 'a', shards: 4, mine: { held: [], claimed: [1, 3] }, others: [] }).claimed, [0, 2]);
  });

  it('never claims what a live member still holds, even when its share is empty', () => {
    const b = decideAssignment({ identity: 'b', shards: 12, mine: { held: [], claimed: [] }, others: [{ identity: 'a', shards: 12, held: range(0, 12), claimed: [] }] });
    assert.deepEqual(b, { share: 6, held: [], taken: [], handBack: [], conflicted: [], claimed: [], withdrawn: [] });
  });

  it('a clash of claims: the lower identity keeps its claim without taking it yet, the higher withdraws', () => {
    const low = decideAssignment({ identity: 'b', shards: 4, mine: { held: [], claimed: [0, 1] }, others: [{ identity: 'c', shards: 4, held: [], claimed: [0, 1] }] });
    assert.deepEqual(low.claimed, [0, 1]);
    assert.deepEqual(low.taken, []);
    const high = decideAssignment({ identity: 'c', shards: 4, mine: { held: [], claimed: [0, 1] }, others: [{ identity: 'b', shards: 4, held: [], claimed: [0, 1] }] });
    assert.deepEqual(high.withdrawn, [0, 1]);
    // ...and claims what nobody else listed instead.
    assert.deepEqual(high.claimed, [2, 3]);
  });

  it('a holder beats a claimer', () => {
    const a = decideAssignment({ identity: 'a', shards: 4, mine: { held: [], claimed: [2] }, others: [{ identity: 'z', shards: 4, held: [2], claimed: [] }] });
    assert.deepEqual(a.withdrawn, [2]);
    assert.deepEqual(a.held, []);
  });

  it('lets go at once of a range another live member holds too', () => {
    const a = decideAssignment({ identity: 'a', shards: 2, mine: { held: [0, 1], claimed: [] }, others: [{ identity: 'b', shards: 2, held: [1], claimed: [] }] });
    assert.deepEqual(a.held, [0]);
    assert.deepEqual(a.handBack, [1]);
  });

  it('different EKSPOSE_SHARDS: refuses to share and says why; whoever holds keeps holding', () => {
    const holder = decideAssignment({ identity: 'z', shards: 12, mine: { held: range(0, 12), claimed: [] }, others: [{ identity: 'a', shards: 3, held: [], claimed: [] }] });
    assert.deepEqual(holder.held, range(0, 12));
    assert.equal(holder.share, 12, 'a member of another count is not counted in the share');
    assert.equal(holder.problem, 'not sharing with a (EKSPOSE_SHARDS=3): this replica runs with EKSPOSE_SHARDS=12, and ranges of different counts overlap');

    const newcomer = decideAssignment({ identity: 'a', shards: 3, mine: { held: [], claimed: [] }, others: [{ identity: 'z', shards: 12, held: range(0, 12), claimed: [] }] });
    assert.deepEqual(newcomer, { share: 3, held: [], taken: [], handBack: [], conflicted: [], claimed: [], withdrawn: [], problem: newcomer.problem });
    assert.match(newcomer.problem ?? '', /z \(EKSPOSE_SHARDS=12\).*EKSPOSE_SHARDS=3/);
  });

  it('different EKSPOSE_SHARDS, both only claiming: the lower identity goes on, the other withdraws; neither takes while the other claims', () => {
    const low = decideAssignment({ identity: 'a', shards: 3, mine: { held: [], claimed: [0, 1, 2] }, others: [{ identity: 'b', shards: 12, held: [], claimed: range(0, 12) }] });
    assert.deepEqual(low.taken, []);
    assert.deepEqual(low.claimed, [0, 1, 2]);
    const high = decideAssignment({ identity: 'b', shards: 12, mine: { held: [], claimed: range(0, 12) }, others: [{ identity: 'a', shards: 3, held: [], claimed: [0, 1, 2] }] });
    assert.deepEqual(high.claimed, []);
    assert.deepEqual(high.withdrawn, range(0, 12));
  });
});

describe('shard members', () => {
  it('a Lease expires leaseDuration after this replica first saw its version, by the local clock; a renew restarts it', () => {
    const lease = (version: string): MemberLease => ({ identity: 'b', shards: 12, held: [1], claimed: [], leaseDurationMs: LEASE_MS, released: false, version });
    let seen = observeMembers(new Map(), [lease('1')], 1_000);
    seen = observeMembers(seen, [lease('1')], 10_000);
    assert.equal(isLiveMember(seen.get('b')!, 15_999), true);
    assert.equal(isLiveMember(seen.get('b')!, 16_000), false);
    seen = observeMembers(seen, [lease('2')], 16_000);
    assert.equal(isLiveMember(seen.get('b')!, 30_999), true);
    assert.deepEqual(liveOthers(seen, 'a', 30_999).map((l) => l.identity), ['b']);
    assert.deepEqual(liveOthers(seen, 'b', 30_999), [], 'never counts itself');
  });

  it('a released Lease is not live', () => {
    const seen = observeMembers(new Map(), [{ identity: 'b', shards: 12, held: [], claimed: [], leaseDurationMs: 1_000, released: true, version: '1' }], 0);
    assert.equal(isLiveMember(seen.get('b')!, 0), false);
  });
});

describe('shard hand-over on the manual clock', () => {
  it('1 → 3 → 1 replicas: the space is split 4/4/4, then all back to one; never a range held twice', () => {
    const c = new Cluster();
    c.add('a');
    c.rounds(2);
    assert.deepEqual(c.held('a'), range(0, 12));

    c.add('b');
    c.add('c');
    c.rounds(1);
    assert.deepEqual(c.held('a'), range(0, 12), 'a went first, before the newcomers wrote their Leases');
    c.rounds(1);
    // a saw both newcomers in this round and let go of the highest eight at once, not at an expiry.
    assert.deepEqual(c.held('a'), range(0, 4));
    c.rounds(4);
    // a keeps its lowest four; b and c each claimed four of the rest in their own order.
    assert.deepEqual(c.held('a'), range(0, 4));
    assert.deepEqual([c.held('b').length, c.held('c').length], [4, 4]);
    assert.deepEqual([...c.held('b'), ...c.held('c')].sort((x, y) => x - y), range(4, 12));
    // b got work within three retry periods of joining (claim, clash settled, hold), not a Lease duration.
    const firstHold = c.log.find((l) => l.identity === 'b' && l.assignment.held.length > 0)!;
    assert.ok(firstHold.at - Date.UTC(2025, 0, 1) <= 2 * RETRY_MS + 3 * RETRY_MS, `b held its first range at ${firstHold.at}`);

    c.stop('b');
    c.stop('c');
    c.rounds(2);
    assert.deepEqual(c.held('a'), range(0, 12));
  });

  it("a killed replica's ranges are taken only after its Lease expired, then shared by the survivors", () => {
    const c = new Cluster();
    for (const id of ['a', 'b', 'c']) c.add(id);
    c.rounds(6);
    const killedRanges = c.held('c');
    assert.equal(killedRanges.length, 4);
    c.kill('c');
    const killedAt = c.clock.now();
    // 14 retry periods: c's last write is still within its lease duration for both survivors.
    c.rounds(14);
    assert.deepEqual([...c.held('a'), ...c.held('b')].sort((x, y) => x - y), range(0, 12).filter((r) => !killedRanges.includes(r)));
    assert.ok(
      c.log.filter((l) => l.at > killedAt).every((l) => l.assignment.claimed.every((r) => !killedRanges.includes(r))),
      `nobody claimed ${killedRanges} before the expiry`,
    );
    c.rounds(6);
    assert.deepEqual([...c.held('a'), ...c.held('b')].sort((x, y) => x - y), range(0, 12));
    assert.equal(c.held('a').length, 6);
    assert.equal(c.held('b').length, 6);
  });

  it('a stale peer (not renewed past the renew deadline): its ranges are claimed at once, held only once it is gone', () => {
    const mine = { held: range(0, 4), claimed: [] };
    const peers = [
      { identity: 'b', shards: 12, held: range(4, 8), claimed: [] },
      { identity: 'c', shards: 12, held: range(8, 12), claimed: [], stale: true },
    ];
    const a = decideAssignment({ identity: 'a', shards: 12, mine, others: peers });
    // Two sharing now (6 each): a claims two of c's ranges, holds none of them yet.
    assert.equal(a.share, 6);
    assert.equal(a.claimed.length, 2);
    assert.ok(a.claimed.every((r) => r >= 8), `claims ${a.claimed} are c's`);
    assert.deepEqual(a.held, range(0, 4));
    // Still listed by c while c is live: the claim stays a claim.
    const again = decideAssignment({ identity: 'a', shards: 12, mine: { held: a.held, claimed: a.claimed }, others: peers });
    assert.deepEqual([again.held, again.claimed, again.withdrawn], [range(0, 4), a.claimed, []]);
    // c expired (no longer live): the claims are held at once.
    const expired = decideAssignment({ identity: 'a', shards: 12, mine: { held: a.held, claimed: a.claimed }, others: peers.slice(0, 1) });
    assert.deepEqual(expired.taken, a.claimed);
  });

  it('hand-back ordering: a newcomer takes a range only after the holder wrote its Lease without it', () => {
    const c = new Cluster();
    c.add('a', 2);
    c.rounds(2);
    c.add('b', 2);
    // b sees a holding both: nothing to claim yet.
    assert.deepEqual(c.round('b').claimed, []);
    // a sees b and hands range 1 back; b's next round claims it, the one after holds it.
    assert.deepEqual(c.round('a').handBack, [1]);
    assert.deepEqual(c.round('b').claimed, [1]);
    assert.deepEqual(c.round('b').taken, [1]);
    assert.deepEqual([c.held('a'), c.held('b')], [[0], [1]]);
  });

  it('two newcomers listing before either writes claim the same ranges; only one ends up holding each', () => {
    const c = new Cluster();
    c.add('a', 4);
    c.rounds(2);
    c.add('b', 4);
    c.add('c', 4);
    c.round('b');
    c.round('c');
    // Nothing free and two peers below the floor share (1): a keeps only that floor.
    assert.deepEqual(c.round('a').handBack, [1, 2, 3]);
    // b and c both list now, then both write: the same claims (both prefer range 3: see preference()), unseen by each other.
    const first = preference('b', 4).find((r) => r !== 0)!;
    assert.equal(preference('c', 4).find((r) => r !== 0), first, 'b and c prefer the same free range');
    const b = c.decide('b');
    const cc = c.decide('c');
    assert.deepEqual([b.claimed, cc.claimed], [[first], [first]]);
    c.commit('b', b);
    c.commit('c', cc);
    // The next lists show the clash: c (higher) withdraws, b keeps its claim but does not take it yet.
    const c2 = c.decide('c');
    const b2 = c.decide('b');
    assert.deepEqual([c2.withdrawn, c2.held], [[first], []]);
    assert.ok(b2.claimed.includes(first));
    assert.deepEqual(b2.held, []);
    c.commit('c', c2);
    c.commit('b', b2);
    c.rounds(6);
    // 4 ranges over 3 replicas: the ceil share (2) would leave c with none; the floor rule gives it one.
    const counts = ['a', 'b', 'c'].map((id) => c.held(id).length);
    assert.deepEqual([...counts].sort(), [1, 1, 2]);
    assert.deepEqual(['a', 'b', 'c'].flatMap((id) => c.held(id)).sort(), [0, 1, 2, 3]);
  });

  it('replicas with different EKSPOSE_SHARDS never hold at once; the new count takes over once the old replica is gone', () => {
    const c = new Cluster();
    c.add('old', 12);
    c.rounds(2);
    c.add('new', 3);
    c.rounds(5);
    assert.deepEqual(c.held('old'), range(0, 12));
    assert.deepEqual(c.held('new'), []);
    const newest = c.log.filter((l) => l.identity === 'new').at(-1)!.assignment;
    assert.match(newest.problem ?? '', /old \(EKSPOSE_SHARDS=12\)/);
    c.stop('old');
    c.rounds(2);
    assert.deepEqual(c.held('new'), [0, 1, 2]);
  });
});
