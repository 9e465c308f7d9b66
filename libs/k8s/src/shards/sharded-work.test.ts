// The membership loop and the work together, on a manual clock: a range's
// life across a loss, a retake and a slow Lease store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ManualClock } from '../base/manual-clock';
import { WorkQueue } from '../queue/work-queue';
import type { MemberStore, OwnMemberLease } from './member-leases';
import type { MemberLease } from './shard-members';
import { rangeIndexOf } from './shard-ranges';
import { ShardMembership } from './shard-membership';
import { ShardedWork } from './sharded-work';

const LEASE_MS = 15_000;
const RENEW_MS = 10_000;
const RETRY_MS = 2_000;
const SHARDS = 2;
const log = pino({ level: 'silent' });
const nsOf = (range: number) => Array.from({ length: 50 }, (_, i) => `team-${i}`).find((ns) => rangeIndexOf(ns, SHARDS) === range)!;

/** One replica's Lease as the API server keeps it; writes can be refused, or answered late (a slow webhook, a slow etcd). */
class OneLease {
  lease?: MemberLease;
  private version = 0;
  refuse = false;
  /** Answer each write this long after it was committed. */
  answerAfterMs = 0;

  constructor(private readonly clock: ManualClock) {}

  store(): MemberStore {
    return {
      list: async () => (this.lease ? [{ ...this.lease }] : []),
      write: async (own: OwnMemberLease) => {
        if (this.refuse) throw new Error('admission webhook denied the request');
        this.lease = { identity: 'a', name: 'ekspose-x-member-a', shards: own.shards, held: [...own.held], claimed: [...own.claimed], leaseDurationMs: own.leaseDurationMs, released: false, version: String(++this.version) };
        if (this.answerAfterMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.answerAfterMs));
      },
      remove: async () => void (this.lease = undefined),
      removeStale: async () => undefined,
    };
  }
}

function replica(clock: ManualClock, server: OneLease) {
  const queue = new WorkQueue({ name: 'test', workers: 2, log, clock });
  // The caches of a range: listed at once; which ranges have one.
  const cached = new Set<number>();
  const caches = [{ addRange: async (r: number) => void cached.add(r), dropRange: async (r: number) => void cached.delete(r) }];
  const work = new ShardedWork({ shards: SHARDS, caches: caches as never, queue, namespaceOfKey: (key) => key.split('/')[0], onServing: () => undefined, log, fence: { valid: () => membership.fresh() } });
  const membership = new ShardMembership({ identity: 'a', shards: SHARDS, store: server.store(), log, clock, leaseDurationMs: LEASE_MS, renewDeadlineMs: RENEW_MS, retryPeriodMs: RETRY_MS, work });
  return { queue, work, membership, cached };
}

/** Lets promise chains settle. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('ShardedWork with the membership loop', () => {
  it('tells which range each hand-over is about, once its work has ended: the per-key state of a range let go goes with it', async () => {
    const clock = new ManualClock();
    const { queue, work } = replica(clock, new OneLease(clock));
    const told: Array<[string, number]> = [];
    work.onHandover = (direction, range) => void told.push([direction, range]);
    work.gain(1);
    await flush();
    await work.lose(1, 'hand-back');
    assert.deepEqual(told, [
      ['gained', 1],
      ['hand-back', 1],
    ]);
    await queue.shutdown();
  });

  it('a range lost while a reconcile of it is in flight is not taken again before that ends, so the old loss never drops a range held anew', async () => {
    const clock = new ManualClock();
    const server = new OneLease(clock);
    const { queue, work, membership, cached } = replica(clock, server);
    membership.start();
    await clock.advanceAsync(2 * RETRY_MS + 1);
    assert.deepEqual(work.serving, [0, 1]);

    // A reconcile of range 0 held in flight (a slow admission webhook on its write).
    let releaseSlow!: () => void;
    queue.start(async (key) => {
      if (key.endsWith('/slow')) await new Promise<void>((resolve) => (releaseSlow = resolve));
      return { kind: 'done' };
    });
    queue.add(`${nsOf(0)}/slow`);
    await flush();

    // The Lease renewals refused past the renew deadline: every range is let go as lost; range 0's drain waits for the slow one.
    server.refuse = true;
    await clock.advanceAsync(RENEW_MS + RETRY_MS);
    assert.deepEqual(work.serving, []);
    assert.equal(work.state(0), 'lost');

    // Renewals go through again; rounds go on while range 0's reconcile is still in flight.
    server.refuse = false;
    await clock.advanceAsync(3 * RETRY_MS);
    // The slow reconcile ends, its drain resumes; then the loop goes on.
    releaseSlow();
    await flush();
    await clock.advanceAsync(4 * RETRY_MS);

    // Whatever the Lease lists as held is served, with its caches: never held and unserved.
    const held = server.lease?.held ?? [];
    for (const r of held) {
      assert.equal(work.state(r), 'serving', `range ${r} listed as held in the Lease but ${work.state(r) ?? 'free'} here`);
      assert.ok(cached.has(r), `range ${r} listed as held but its caches are gone`);
    }
    assert.deepEqual(held, [0, 1], 'both ranges taken back once their work ended');
    await membership.stop();
    await queue.shutdown();
  });

  it('a write refused while its range is still served (the fence down between a slow renewal’s send and its answer) is tried again, not dropped', async () => {
    const clock = new ManualClock();
    const server = new OneLease(clock);
    const { queue, work, membership } = replica(clock, server);
    membership.start();
    await clock.advanceAsync(2 * RETRY_MS + 1);
    assert.deepEqual(work.serving, [0, 1]);

    // Each Lease update answered 4.2 s after it is sent: inside the renew deadline, so nothing is lost,
    // but between a renewal's send + 10 s and its answer the fence is down.
    server.answerAfterMs = 4_200;
    const written: string[] = [];
    const refused: string[] = [];
    queue.start(
      work.reconciler(async (key) => {
        try {
          work.guard(key.split('/')[0]!);
        } catch (err) {
          refused.push(key);
          throw err;
        }
        written.push(key);
        return { kind: 'done' };
      }, RETRY_MS),
    );
    // Step through time; each time the fence is down while the range is served, a key arrives.
    let added = 0;
    for (let i = 0; i < 400 && added < 3; i++) {
      await clock.advanceAsync(100);
      if (!membership.fresh() && work.serving.includes(0)) queue.add(`${nsOf(0)}/app-${added++}`);
    }
    assert.equal(added, 3, 'the fence was down with the range served');
    await clock.advanceAsync(30_000);
    assert.ok(refused.length >= 3, 'each was refused first');
    assert.deepEqual(work.serving, [0, 1], 'nothing let go');
    assert.deepEqual([...new Set(written)].sort(), [0, 1, 2].map((i) => `${nsOf(0)}/app-${i}`), 'every refused write went out later');
    server.answerAfterMs = 0;
    const stopped = membership.stop();
    await clock.advanceAsync(10_000);
    await stopped;
    await queue.shutdown();
  });
});
