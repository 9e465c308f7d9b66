import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { V1MicroTime } from '@kubernetes/client-node';
import { ManualClock } from '../base/manual-clock';
import type { MemberStore, OwnMemberLease } from './member-leases';
import { memberFromLease, memberLease, memberLeaseName, parseRangeList } from './member-leases';
import type { MemberLease } from './shard-members';
import { type RangeLoss, type RangeWork, ShardMembership } from './shard-membership';
import { RangeLifecycle } from './range-lifecycle';

const LEASE_MS = 15_000;
const RENEW_MS = 10_000;
const RETRY_MS = 2_000;
const log = pino({ level: 'silent' });

/**
 * The member Leases as the API server keeps them: every write makes a new
 * resourceVersion, a delete with a stale precondition is a 409, of a missing
 * Lease a 404. Writes of one replica can be made to fail (an unreachable server).
 */
class LeaseServer {
  readonly leases = new Map<string, MemberLease>();
  private version = 0;
  readonly failing = new Set<string>();
  /** Replicas whose calls never answer (a black-holed connection). */
  readonly hanging = new Set<string>();
  failLists = false;
  /** Deletes refused with this status (RBAC, an admission policy): the Lease stays, unchanged. */
  refuseDeletes?: number;

  store(identity: string): MemberStore {
    const name = memberLeaseName('deployment-controller', identity);
    return {
      list: async () => {
        if (this.hanging.has(identity)) return new Promise<never>(() => undefined);
        if (this.failLists || this.failing.has(identity)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return [...this.leases.values()].map((l) => ({ ...l }));
      },
      write: async (own: OwnMemberLease) => {
        if (this.hanging.has(identity)) return new Promise<never>(() => undefined);
        if (this.failing.has(identity)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        this.leases.set(identity, {
          identity,
          name,
          shards: own.shards,
          held: [...own.held],
          claimed: [...own.claimed],
          leaseDurationMs: own.leaseDurationMs,
          released: false,
          version: String(++this.version),
        });
      },
      remove: async () => {
        this.leases.delete(identity);
      },
      removeStale: async (leaseName, version) => {
        if (this.refuseDeletes) throw Object.assign(new Error('deletion refused'), { code: this.refuseDeletes });
        const entry = [...this.leases.entries()].find(([, l]) => l.name === leaseName);
        if (!entry) throw Object.assign(new Error('not found'), { code: 404 });
        if (entry[1].version !== version) throw Object.assign(new Error('conflict'), { code: 409 });
        this.leases.delete(entry[0]);
      },
    };
  }

  heldBy(identity: string): readonly number[] {
    return this.leases.get(identity)?.held ?? [];
  }
}

interface Replica {
  identity: string;
  membership: ShardMembership;
  /** Ranges being served, as gain/lose left them. */
  serving: Set<number>;
  calls: Array<{ op: 'gain' | RangeLoss; range: number; at: number; leaseListedIt?: boolean }>;
}

function replica(
  server: LeaseServer,
  clock: ManualClock,
  identity: string,
  shards = 12,
  drain?: (range: number) => Promise<void>,
  wrap: (store: MemberStore) => MemberStore = (store) => store,
): Replica {
  const serving = new Set<number>();
  const calls: Replica['calls'] = [];
  const ranges = new RangeLifecycle();
  // The work as ShardedWork does it, with caches that list at once.
  const work: RangeWork = {
    ranges,
    gain: (range) => {
      const turn = ranges.start(range);
      if (!turn) return;
      ranges.serve(turn);
      serving.add(range);
      calls.push({ op: 'gain', range, at: clock.now() });
    },
    lose: async (range, how) => {
      const turn = ranges.letGo(range, how);
      if (!turn) return;
      // What the others could read while this replica drains: its Lease must still list the range.
      calls.push({ op: how, range, at: clock.now(), leaseListedIt: server.heldBy(identity).includes(range) });
      if (how === 'hand-back' && drain) await drain(range);
      serving.delete(range);
      ranges.release(turn);
    },
  };
  const membership = new ShardMembership({
    identity,
    shards,
    store: wrap(server.store(identity)),
    log,
    clock,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    work,
  });
  return { identity, membership, serving, calls };
}

/** One round of each running replica, then the retry period passes. */
async function rounds(clock: ManualClock, replicas: Replica[], n: number, check?: () => void): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const r of replicas) {
      await r.membership.runRound();
      check?.();
    }
    clock.advance(RETRY_MS);
  }
}

/** No range served by two replicas at once. */
function assertDisjoint(replicas: Replica[]): void {
  const owner = new Map<number, string>();
  for (const r of replicas) {
    for (const range of r.serving) {
      assert.equal(owner.get(range), undefined, `range ${range} served by ${owner.get(range)} and ${r.identity}`);
      owner.set(range, r.identity);
    }
  }
}

describe('ShardMembership (the Lease loop on a manual clock)', () => {
  it('one replica claims every range, then holds them one round later, and writes one Lease per round', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const a = replica(server, clock, 'a');
    await rounds(clock, [a], 1);
    assert.deepEqual([...a.serving], [], 'a claim is not a hold');
    assert.deepEqual(server.leases.get('a')?.claimed.length, 12);
    await rounds(clock, [a], 1);
    assert.deepEqual([...a.serving].sort((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i));
    assert.deepEqual(server.heldBy('a').length, 12);
    const version = server.leases.get('a')!.version;
    await rounds(clock, [a], 3);
    assert.equal(Number(server.leases.get('a')!.version) - Number(version), 3, 'one write per round, however many ranges');
  });

  it('three replicas settle on 4 ranges each, never serving one range twice on the way', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const a = replica(server, clock, 'a');
    await rounds(clock, [a], 3);
    const b = replica(server, clock, 'b');
    const c = replica(server, clock, 'c');
    const all = [a, b, c];
    await rounds(clock, all, 12, () => assertDisjoint(all));
    for (const r of all) assert.equal(r.serving.size, 4, `${r.identity} serves ${[...r.serving]}`);
    assert.equal(new Set(all.flatMap((r) => [...r.serving])).size, 12);
    // The newcomers got their ranges from hand-backs, each made while a's Lease still listed the range.
    const handBacks = a.calls.filter((c) => c.op === 'hand-back');
    assert.equal(handBacks.length, 8);
    assert.ok(handBacks.every((c) => c.leaseListedIt), 'a range is written out of the Lease only after its work was let go');
  });

  it('a replica killed (no rounds, Lease left) loses its ranges to the others after the Lease duration, not before', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => replica(server, clock, id));
    const all = [a!, b!, c!];
    await rounds(clock, all, 12, () => assertDisjoint(all));
    const killedRanges = [...c!.serving];
    const killedAt = clock.now();
    // c is gone: only a and b go on.
    const survivors = [a!, b!];
    let takenAt: number | undefined;
    for (let i = 0; i < 20 && takenAt === undefined; i++) {
      await rounds(clock, survivors, 1);
      const served = new Set(survivors.flatMap((r) => [...r.serving]));
      // When the last of them was gained (the round's time, before the clock moved on).
      if (killedRanges.every((r) => served.has(r))) {
        takenAt = Math.max(...survivors.flatMap((r) => r.calls.filter((c) => c.op === 'gain' && killedRanges.includes(c.range)).map((c) => c.at)));
      }
      // Before expiry nobody serves what c may still be writing for.
      if (clock.now() - killedAt < LEASE_MS) assert.ok(killedRanges.every((r) => !served.has(r)), 'taken before the Lease expired');
    }
    assert.ok(takenAt !== undefined, 'the killed replica’s ranges were taken over');
    // Claimed once the Lease went stale (the renew deadline), held at the first round after it expired.
    assert.ok(takenAt - killedAt <= LEASE_MS + RETRY_MS, `taken over after ${takenAt - killedAt} ms`);
    assert.equal(a!.serving.size + b!.serving.size, 12);
  });

  it('a clean stop hands every range back, removes its Lease, and the others hold them within two rounds', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const [a, b] = ['a', 'b'].map((id) => replica(server, clock, id));
    await rounds(clock, [a!, b!], 10);
    assert.equal(b!.serving.size, 6);
    await b!.membership.stop();
    assert.equal(server.leases.has('b'), false);
    assert.equal(b!.calls.filter((c) => c.op === 'hand-back').length, 6);
    await rounds(clock, [a!], 2);
    assert.equal(a!.serving.size, 12);
  });

  it('a replica that cannot renew for the renew deadline lets go of everything as lost, before the others may take it', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const [a, b] = ['a', 'b'].map((id) => replica(server, clock, id));
    await rounds(clock, [a!, b!], 10);
    server.failing.add('b');
    const cutAt = clock.now();
    await rounds(clock, [a!, b!], 10, () => assertDisjoint([a!, b!]));
    const lost = b!.calls.filter((c) => c.op === 'lost');
    assert.equal(lost.length, 6);
    assert.ok(lost.every((c) => c.at - cutAt <= RENEW_MS + RETRY_MS && c.at - cutAt < LEASE_MS), 'let go within the deadline, before expiry');
    assert.equal(a!.serving.size, 12, 'the other took them after expiry');
  });

  it('replicas with different EKSPOSE_SHARDS never serve at once: the one holding keeps, the other waits and says why', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const old = replica(server, clock, 'old', 12);
    await rounds(clock, [old], 3);
    const problems: Array<string | undefined> = [];
    const next = replica(server, clock, 'a-new', 3);
    // Reach into the options to see the problem reported (the host turns it into ekspose_shard_refused).
    (next.membership as unknown as { opts: { onProblem?: (p?: string) => void } }).opts.onProblem = (p) => problems.push(p);
    await rounds(clock, [old, next], 6);
    assert.equal(old.serving.size, 12);
    assert.equal(next.serving.size, 0);
    assert.match(problems[0] ?? '', /EKSPOSE_SHARDS=12/);
    // The old replica stops (a rolling update): the new count takes the whole space.
    await old.membership.stop();
    await rounds(clock, [next], 3);
    assert.equal(next.serving.size, 3);
  });

  it('removes the Lease of a replica gone for good, only while it is unchanged', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const [a, b] = ['a', 'b'].map((id) => replica(server, clock, id));
    await rounds(clock, [a!, b!], 3);
    assert.ok(server.leases.has('b'));
    for (let i = 0; i < 160; i++) await rounds(clock, [a!], 1);
    assert.equal(server.leases.has('b'), false, 'unchanged for 5 min: removed');
    assert.ok(server.leases.has('a'));
  });

  it('a stale Lease whose delete is refused stays an expired member: no ghost takes ranges from the survivor, and it is removed once deletes are allowed', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const [a, b] = ['a', 'b'].map((id) => replica(server, clock, id));
    await rounds(clock, [a!, b!], 10);
    assert.equal(b!.serving.size, 6);
    // b is killed (no rounds, its Lease left listing 6 held ranges); deletes of Leases are refused.
    server.refuseDeletes = 403;
    let whole = false;
    // 12 minutes: two attempts to remove b's Lease (at 5 and 10 min), both refused.
    await rounds(clock, [a!], 360, () => {
      if (a!.serving.size === 12) whole = true;
      if (whole) assert.equal(a!.serving.size, 12, `the survivor let go of ${12 - a!.serving.size} ranges at ${clock.now()} ms`);
    });
    assert.ok(whole, 'the survivor took the killed replica’s ranges');
    assert.equal(a!.calls.filter((c) => c.op === 'lost').length, 0, 'nothing lost to a ghost');
    assert.ok(server.leases.has('b'), 'the delete was refused');
    server.refuseDeletes = undefined;
    await rounds(clock, [a!], 160);
    assert.equal(server.leases.has('b'), false, 'removed at the next attempt once allowed');
    assert.equal(a!.serving.size, 12);
  });
});

describe('ShardMembership when the API server is slow or a drain is long', () => {
  /** Runs a round while the manual clock moves on, for rounds whose calls may hang (bounded by timers on the clock). */
  async function roundWhileTime(clock: ManualClock, r: Replica): Promise<void> {
    let done = false;
    const round = r.membership.runRound().finally(() => (done = true));
    for (let steps = 0; !done && steps < 100; steps++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(500);
    }
    await round;
  }

  it('a store call that never answers is given up within the round; at the renew deadline every range is lost and no write may go out', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const a = replica(server, clock, 'a');
    await rounds(clock, [a], 2);
    assert.equal(a.serving.size, 12);
    assert.equal(a.membership.fresh(), true);
    server.hanging.add('a');
    const cutAt = clock.now();
    for (let i = 0; i < 3; i++) await roundWhileTime(clock, a);
    const lost = a.calls.filter((c) => c.op === 'lost');
    assert.equal(lost.length, 12, 'every range let go');
    assert.ok(lost.every((c) => c.at - cutAt <= RENEW_MS + RETRY_MS), `let go ${Math.max(...lost.map((c) => c.at)) - cutAt} ms after the last renewal`);
    assert.equal(a.membership.fresh(), false, 'the write guard’s fence is down');
  });

  it('a hand-back whose work takes longer than the renew deadline keeps the range listed as held and the Lease renewed until it ends', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const releases = new Map<number, () => void>();
    const slow = (range: number) => new Promise<void>((resolve) => releases.set(range, resolve));
    const a = replica(server, clock, 'a', 12, slow);
    await rounds(clock, [a], 3);
    const b = replica(server, clock, 'b');
    const versions: string[] = [];
    // Several rounds while a drains the six ranges it hands back: its Lease keeps changing and keeps listing them.
    await rounds(clock, [a, b], 8, () => {
      versions.push(server.leases.get('a')!.version);
      assertDisjoint([a, b]);
    });
    const draining = [...releases.keys()];
    assert.equal(draining.length, 6);
    assert.ok(draining.every((r) => server.heldBy('a').includes(r)), 'still listed as held while draining');
    assert.ok(draining.every((r) => !b.serving.has(r)), 'not taken while draining');
    assert.ok(new Set(versions).size > 5, 'renewed all along');
    assert.equal(a.calls.filter((c) => c.op === 'lost').length, 0);
    for (const release of releases.values()) release();
    await rounds(clock, [a, b], 4, () => assertDisjoint([a, b]));
    assert.deepEqual([a.serving.size, b.serving.size], [6, 6]);
  });

  it('a live leader Lease (EKSPOSE_SHARDS=1, a rolling update) holds everything: sharded replicas take nothing until it is released', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    server.leases.set('leader', { identity: 'old-pod', shards: 1, held: [0], claimed: [], leaseDurationMs: LEASE_MS, released: false, version: 'x1', leader: true });
    const a = replica(server, clock, 'a');
    await rounds(clock, [a], 3);
    // The leader renews: it stays live.
    server.leases.set('leader', { ...server.leases.get('leader')!, version: 'x2' });
    await rounds(clock, [a], 3);
    assert.equal(a.serving.size, 0);
    assert.match(a.membership.status().problem ?? '', /old-pod \(EKSPOSE_SHARDS=1\)/);
    // The old pod stops and releases its Lease.
    server.leases.set('leader', { ...server.leases.get('leader')!, released: true, version: 'x3' });
    await rounds(clock, [a], 3);
    assert.equal(a.serving.size, 12);
  });
});

describe('ShardMembership on one clock for the right to write', () => {
  it('a wall-clock step forward or back (NTP) neither drops ranges nor extends writing: the fence is monotonic', async () => {
    const server = new LeaseServer();
    const clock = new ManualClock();
    const a = replica(server, clock, 'a');
    await rounds(clock, [a], 2);
    assert.equal(a.serving.size, 12);
    clock.stepWall(3_600_000);
    assert.equal(a.membership.fresh(), true, 'an hour forward on the wall: still fresh');
    await rounds(clock, [a], 3);
    assert.equal(a.serving.size, 12, 'nothing dropped');
    assert.equal(a.calls.filter((c) => c.op === 'lost').length, 0);
    // Renewals stop, and the wall clock steps back two hours.
    server.failing.add('a');
    const cutAt = clock.monotonic();
    clock.stepWall(-7_200_000);
    let fenceDownAt: number | undefined;
    for (let i = 0; i < 20; i++) {
      await rounds(clock, [a], 1);
      if (fenceDownAt === undefined && !a.membership.fresh()) fenceDownAt = clock.monotonic();
    }
    assert.ok(fenceDownAt !== undefined && fenceDownAt - cutAt <= RENEW_MS + RETRY_MS, `writes allowed ${fenceDownAt === undefined ? 'for ever' : `${fenceDownAt - cutAt} ms`} after the last renewal`);
    assert.equal(a.serving.size, 0, 'every range let go at the renew deadline');
  });

  it('a replica paused between reading the Lease list and writing its Lease does not write as held what a peer took meanwhile', async () => {
    const server = new LeaseServer();
    // Each replica has its own clock (liveness is judged locally); a's does not run while it is paused.
    const clockA = new ManualClock();
    const clockB = new ManualClock();
    let pauseNext = false;
    let b: Replica | undefined;
    const pausing = (store: MemberStore): MemberStore => ({
      ...store,
      list: async () => {
        const leases = await store.list();
        if (pauseNext) {
          pauseNext = false;
          // The list is read, then the process stops (SIGSTOP, a long GC) for 30 s: b sees a's Lease expire and takes its ranges.
          b = replica(server, clockB, 'b', 4);
          await rounds(clockB, [b], 12);
          clockA.skip(30_000);
        }
        return leases;
      },
    });
    const a = replica(server, clockA, 'a', 4, undefined, pausing);
    await rounds(clockA, [a], 3);
    assert.equal(a.serving.size, 4);
    pauseNext = true;
    await a.membership.runRound();
    assert.equal(b!.serving.size, 4, 'b took the ranges of a Lease that expired');
    const both = server.heldBy('a').filter((r) => server.heldBy('b').includes(r));
    assert.deepEqual(both, [], 'the resumed replica wrote ranges its peer holds as held');
    await rounds(clockB, [b!], 2);
    assert.deepEqual(b!.calls.filter((c) => c.op === 'lost'), [], 'the healthy peer let nothing go as held twice');
    assert.equal(a.calls.filter((c) => c.op === 'lost').length, 4, 'the paused one let go of everything');
  });
});

describe('member Lease encoding', () => {
  it('names are DNS subdomains whatever the identity', () => {
    assert.equal(memberLeaseName('service-controller', 'service-controller-7d9f-x2k'), 'ekspose-service-controller-member-service-controller-7d9f-x2k');
    assert.equal(memberLeaseName('service-controller', 'Host_Name:123'), 'ekspose-service-controller-member-host-name-123');
    assert.ok(memberLeaseName('x', 'a'.repeat(400)).length <= 253);
  });

  it('advertises the lease duration rounded up, as the leader Lease does: the others never wait less than this replica counts on', () => {
    const who = { name: 'n', namespace: 'ns', controller: 'c', identity: 'a', acquired: new V1MicroTime(0) };
    assert.equal(memberLease(who, { shards: 2, held: [], claimed: [], leaseDurationMs: 1_400 }).spec?.leaseDurationSeconds, 2);
    assert.equal(memberLease(who, { shards: 2, held: [], claimed: [], leaseDurationMs: 15_000 }).spec?.leaseDurationSeconds, 15);
  });

  it('range lists keep valid numbers of the count and name the rest', () => {
    assert.deepEqual(parseRangeList('3,0, 11,3', 12), { ranges: [0, 3, 11], invalid: [] });
    assert.deepEqual(parseRangeList('1,12,x,-1', 12), { ranges: [1], invalid: ['12', 'x', '-1'] });
    assert.deepEqual(parseRangeList('', 12), { ranges: [], invalid: [] });
  });

  it('reads a Lease: shards, held, claimed, released when it has no holder; ignores a Lease without a shard count', () => {
    const lease = {
      metadata: { name: 'ekspose-x-member-a', resourceVersion: '7', annotations: { 'ekspose.io/shards': '12', 'ekspose.io/held': '0,1', 'ekspose.io/claimed': '5' } },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15 },
    };
    assert.deepEqual(memberFromLease(lease), { identity: 'a', shards: 12, held: [0, 1], claimed: [5], leaseDurationMs: 15_000, released: false, version: '7', name: 'ekspose-x-member-a' });
    assert.equal(memberFromLease({ ...lease, spec: { leaseDurationSeconds: 15 } })?.released, true);
    assert.equal(memberFromLease({ metadata: { name: 'other' }, spec: {} }), undefined);
  });
});
