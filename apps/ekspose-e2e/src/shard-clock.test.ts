// Issue 29, findings 6 and 3, on the real plane: the right to write and a peer's
// liveness are durations, and a wall-clock step (NTP) must change neither.
// Two deployment-controller replicas with EKSPOSE_SHARDS=4 and short leases,
// each with its wall clock steppable from the test (support/clock-step.ts:
// Date.now() and `new Date()` jump, performance.now() and the timers do not).
//   (6a) one replica stepped an hour forward and the other an hour back, at
//        once: for 20 s neither lets a range go or sees one held twice, each
//        keeps the ranges it served, and a Deployment in each range gets its
//        Service;
//   (6b) one replica's renewals refused by an admission policy, and its wall
//        clock stepped an hour back right after the first refusal: it stops
//        serving within the renew deadline (5 s) and a few seconds of that
//        refusal, not an hour later, and the other replica takes its ranges.
//   (3)  finding 3, a pause with a Lease list read before it: the first
//        replica reaches the API server through a proxy (support/holding-
//        proxy.ts) that holds its member-Lease list's answer and is stopped
//        (SIGSTOP) while turning it into objects, until its peer has taken
//        its ranges: resumed, it writes nothing that makes the peer drop a
//        range as held twice.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { MEMBER_LABEL, rangeIndexOf } from '@ekspose/k8s';
import { steppableClock } from './support/clock-step';
import { startHoldingProxy, writeProxyKubeconfig } from './support/holding-proxy';
import { consistently, eventually } from './support/poll';
import { CONTROLLER_NAMESPACE, type ControllerProcess, TestEnv, logSince } from './support/test-env';
import { refusalPolicy } from './support/refusal-policy';

const APP = 'deployment-controller';
const SHARDS = 4;
const HOUR = 3_600_000;
const RENEW_DEADLINE_MS = 5_000;
const TIMINGS = {
  EKSPOSE_SHARDS: String(SHARDS),
  // A lease duration well past the renew deadline: a peer's take-over (which also ends a replica's serving) comes
  // only after the time (6b) allows for the replica's own fence to fall.
  EKSPOSE_LEASE_DURATION_SECONDS: '12',
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: String(RENEW_DEADLINE_MS / 1000),
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '1',
};
/** What a replica logs when it drops ranges: none of it may follow a clock step alone. */
const DROPS = ['letting go of every range', 'range let go', 'ranges held by another replica too: let go at once'];

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
});

after(async () => {
  await env?.stop();
});

/** The first namespace named `<prefix>-<i>` in each of the SHARDS ranges, by the controllers' own hash. */
function oneNamespacePerRange(prefix: string): string[] {
  const found: string[] = [];
  for (let r = 0; r < SHARDS; r++) {
    let i = 0;
    while (rangeIndexOf(`${prefix}-${i}`, SHARDS) !== r) i++;
    found.push(`${prefix}-${i}`);
  }
  return found;
}

/** The renewTime the replica last wrote into its member Lease, minus the real time now (ms). */
async function leaseSkew(proc: ControllerProcess): Promise<number | undefined> {
  const list = await env.clients.coordination.listNamespacedLease({ namespace: CONTROLLER_NAMESPACE, labelSelector: `${MEMBER_LABEL}=${APP}` });
  const lease = list.items.find((l) => l.spec?.holderIdentity === proc.identity);
  const renewed = lease?.spec?.renewTime;
  return renewed === undefined ? undefined : new Date(renewed as unknown as string).getTime() - Date.now();
}

/** Two replicas, each with a steppable wall clock, started one after the other and serving two ranges each; `extraA` for the first. */
async function startPair(tag: string, extraA: Record<string, string> = {}) {
  const clockA = steppableClock(env.plane.dir, `${tag}-a`);
  const clockB = steppableClock(env.plane.dir, `${tag}-b`);
  const a = await env.startController(APP, { ...TIMINGS, ...clockA.env, ...extraA });
  const b = await env.startController(APP, { ...TIMINGS, ...clockB.env });
  let split: [number[], number[]] = [[], []];
  await eventually(
    async () => {
      split = await Promise.all([env.servingRanges(a), env.servingRanges(b)]);
      return split[0].length === 2 && split[1].length === 2 && new Set([...split[0], ...split[1]]).size === SHARDS;
    },
    { timeoutMs: 60_000, what: 'the two replicas serving two ranges each' },
  ).catch(async (err: Error) => {
    await Promise.all([a.handle.stop(12_000), b.handle.stop(12_000)]);
    throw new Error(`${err.message}: last ${JSON.stringify(split)}`);
  });
  return { a, b, clockA, clockB, split };
}

it('(6a) one replica\'s wall clock stepped an hour forward and the other\'s an hour back: for 20 s no range is let go or held twice, each keeps its ranges, a Deployment in each range is exposed', { timeout: 240_000 }, async () => {
  const namespaces = oneNamespacePerRange('step');
  for (const ns of namespaces) await env.createNamespace(ns);
  const { a, b, clockA, clockB, split } = await startPair('step');
  try {
    const from = [a.handle.readLog().length, b.handle.readLog().length] as const;
    clockA.step(a, HOUR);
    clockB.step(b, -HOUR);
    // The steps are in force: each replica's next renewal writes its own stepped time into its Lease.
    await eventually(async () => ((await leaseSkew(a)) ?? 0) > 0.9 * HOUR && ((await leaseSkew(b)) ?? 0) < -0.9 * HOUR, {
      timeoutMs: 10_000,
      what: 'renewTime an hour ahead in the first replica\'s Lease and an hour behind in the other\'s',
    });
    const created: string[] = [];
    const stepped = Date.now();
    await consistently(
      async () => {
        // Halfway through, one Deployment in each range: the steps must not leave any range unserved.
        if (created.length === 0 && Date.now() - stepped > 10_000) {
          for (const ns of namespaces) {
            await env.createDeployment(ns, 'after-step');
            created.push(ns);
          }
        }
        const now = await Promise.all([env.servingRanges(a), env.servingRanges(b)]);
        const dropped = [...logSince(a, from[0]), ...logSince(b, from[1])].some((l) => DROPS.includes(l.msg ?? ''));
        return JSON.stringify(now) === JSON.stringify(split) && !dropped;
      },
      20_000,
      'each replica to keep serving its two ranges, nothing let go',
      250,
    ).catch(async (err: Error) => {
      const now = await Promise.all([env.servingRanges(a), env.servingRanges(b)]);
      const told = [...logSince(a, from[0]).map((l) => ['A', l] as const), ...logSince(b, from[1]).map((l) => ['B', l] as const)]
        .filter(([, l]) => DROPS.includes(l.msg ?? '') || l.msg === 'ranges taken' || l.msg === 'range served')
        .map(([who, l]) => `${who} ${l.msg} ${JSON.stringify(l.lost ?? l.range ?? l.taken ?? '')} ${String(l.why ?? '')}`);
      throw new Error(`${err.message}: served ${JSON.stringify(split)} before the steps, ${JSON.stringify(now)} now\n${told.join('\n')}`);
    });
    for (const ns of namespaces) await env.waitForService(ns, 'after-step', undefined, 30_000);
  } finally {
    await Promise.all([a.handle.stop(12_000), b.handle.stop(12_000)]);
  }
});

/** A policy refusing every update of the member Lease `identity` holds: its renewals fail, the other replica's go through. */
function refuseRenewalsOf(identity: string): string {
  return refusalPolicy({
    name: 'no-renewals-of-one-replica',
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    operations: ['UPDATE'],
    namespace: CONTROLLER_NAMESPACE,
    objectLabels: { [MEMBER_LABEL]: APP },
    expression: `object.spec.holderIdentity != '${identity}'`,
    message: `renewals of ${identity} refused`,
  });
}

it('(6b) a replica whose renewals are refused and whose wall clock then steps an hour back stops serving within the renew deadline of its last renewal, and the other takes its ranges', { timeout: 240_000 }, async () => {
  const namespaces = oneNamespacePerRange('back');
  for (const ns of namespaces) await env.createNamespace(ns);
  const { a, b, clockA, split } = await startPair('back');
  const policy = refuseRenewalsOf(a.identity);
  try {
    const from = a.handle.readLog().length;
    const applied = await env.plane.kubectl(['apply', '-f', '-'], { input: policy });
    assert.equal(applied.code, 0, applied.stderr);
    await eventually(() => logSince(a, from).some((l) => l.msg === 'shard Lease not written'), { timeoutMs: 20_000, intervalMs: 100, what: 'the replica\'s first refused renewal' });
    const refusedAt = Date.now();
    // Stepped back after its last committed renewal: a right to write counted on the wall clock would now last an hour longer.
    clockA.step(a, -HOUR);
    // Its last committed renewal was sent at most a retry period (1 s) before this refusal: its right to write
    // ends 5 s after that send. An hour-back wall clock must not stretch it to an hour.
    const limit = RENEW_DEADLINE_MS + 2_000;
    let serving: number[] = split[0];
    await eventually(
      async () => {
        serving = await env.servingRanges(a);
        return serving.length === 0;
      },
      { timeoutMs: limit, intervalMs: 200, what: `the stepped replica serving nothing within ${limit} ms of its first refused renewal` },
    ).catch((err: Error) => {
      const told = logSince(a, from).filter((l) => DROPS.includes(l.msg ?? '') || l.msg === 'shard Lease not written').map((l) => `${l.msg} ${String(l.why ?? '')}`);
      throw new Error(`${err.message}: still serving ${JSON.stringify(serving)} ${Date.now() - refusedAt} ms after; its log: ${JSON.stringify(told.slice(0, 4))} (${told.length} lines)`);
    });
    const stoppedAfter = Date.now() - refusedAt;
    // The step was in force meanwhile: what it logged since carries its own time, an hour behind.
    const times = logSince(a, from).map((l) => Date.parse(String(l.time)) - Date.now());
    assert.ok(times.some((t) => t < -0.9 * HOUR), `the replica's log times an hour behind after the step (${times.length} lines, earliest ${Math.min(...times)} ms from now)`);
    assert.ok(logSince(a, from).some((l) => l.msg === 'letting go of every range'), 'the stepped replica logged that it let go of every range');
    // Its peer takes over what it served, once its Lease has not changed for a lease duration.
    await eventually(async () => (await env.servingRanges(b)).length === SHARDS, { timeoutMs: 30_000, what: 'the other replica serving all four ranges' });
    const tookAfter = Date.now() - refusedAt;
    assert.deepEqual(await env.servingRanges(a), [], 'the stepped replica still serves nothing');
    for (const ns of namespaces) await env.createDeployment(ns, 'after-takeover');
    for (const ns of namespaces) await env.waitForService(ns, 'after-takeover', undefined, 30_000);
    process.stderr.write(`(6b) stepped replica serving nothing ${stoppedAfter} ms after its first refused renewal; the other serving all 4 ranges ${tookAfter} ms after\n`);
  } finally {
    await env.plane.kubectl(['delete', '-f', '-', '--ignore-not-found'], { input: policy });
    await Promise.all([a.handle.stop(12_000), b.handle.stop(12_000)]);
  }
});

const HELD_TWICE = 'ranges held by another replica too: let go at once';

/** The state letter of a process's main thread (R running, S sleeping, T stopped), from /proc. */
function mainThreadState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Leases of nobody, added to the held list answer: turning them into objects keeps the replica's loop busy for a while. */
const PADDING = 200_000;

it('(3) a replica paused (SIGSTOP) past its lease between reading its member-Lease list and acting on it: once resumed it writes nothing that makes its peer drop a range as held twice', { timeout: 240_000 }, async () => {
  // The first replica reaches the API server through a proxy that can hold a read's answer. The pause must fall
  // after the list is read and before the replica decides on it, as a GC pause or a frozen node can: a SIGSTOP
  // while the loop waits would let its timers (its renew deadline) run before the answer on resume. So the answer
  // carries 200,000 more Leases of nobody (ignored, no member label) and the replica is stopped while its main
  // thread is busy turning them into objects, one synchronous stretch between the read and the decision.
  const proxy = await startHoldingProxy(env.plane);
  const { a, b } = await startPair('pause', { KUBECONFIG: writeProxyKubeconfig(env.plane, proxy, 'pause-a') });
  try {
    const fromA = a.handle.readLog().length;
    const fromB = b.handle.readLog().length;
    // The list of Leases (by label on today's code, all of the namespace's before issue 29's fixes); not a watch, not a read by name.
    const leaseList = new RegExp(`/namespaces/${CONTROLLER_NAMESPACE}/leases(\\?|$)`);
    proxy.holdNext(
      (method, path) => method === 'GET' && leaseList.test(path) && !path.includes('watch=true'),
      (body) => {
        const list = JSON.parse(body.toString('utf8')) as { items: unknown[] };
        for (let i = 0; i < PADDING; i++) list.items.push({ metadata: { name: `nobody-${i}`, namespace: CONTROLLER_NAMESPACE }, spec: {} });
        return Buffer.from(JSON.stringify(list));
      },
    );
    await eventually(() => proxy.held !== undefined, { timeoutMs: 10_000, intervalMs: 20, what: 'the first replica\'s Lease list answered by the server and held at the proxy' });
    const listedAt = proxy.held!.answeredAt;
    await proxy.release();
    // Reading the answer runs in short bursts between waits on the socket; turning it into objects is one stretch
    // of hundreds of milliseconds (on this 2-core plane): stopped once its main thread has run 100 ms on end.
    let runningSince: number | undefined;
    await eventually(
      () => {
        const now = Date.now();
        if (mainThreadState(a.handle.pid) !== 'R') runningSince = undefined;
        else runningSince ??= now;
        return runningSince !== undefined && now - runningSince >= 100;
      },
      { timeoutMs: 10_000, intervalMs: 2, what: 'the first replica busy with the answer (its main thread running 100 ms on end)' },
    );
    assert.ok(a.handle.signal('SIGSTOP'));
    await eventually(() => mainThreadState(a.handle.pid) === 'T', { timeoutMs: 2_000, intervalMs: 10, what: 'the first replica stopped' });
    // Its peer sees its Lease unchanged for a lease duration and takes its two ranges.
    await eventually(async () => (await env.servingRanges(b)).length === SHARDS, { timeoutMs: 45_000, what: 'the peer serving all four ranges while the first replica is paused' });
    const tookAfter = Date.now() - listedAt;
    assert.ok(a.handle.signal('SIGCONT'));
    const resumedAt = Date.now();
    await eventually(() => logSince(a, fromA).some((l) => Date.parse(String(l.time)) >= resumedAt), { timeoutMs: 10_000, what: 'the first replica running again (a log line after SIGCONT)' });
    // The pause fell where meant: the first thing the resumed replica did was to find its fence down right after the
    // list (today's code says so; the code before the fixes went on to decide and write instead).
    const firstLetGo = () => logSince(a, fromA).find((l) => l.msg === 'letting go of every range');
    await eventually(() => firstLetGo() !== undefined, { timeoutMs: 10_000, what: 'the resumed replica letting go of its ranges' });
    const why = String(firstLetGo()?.why ?? '');
    // Nothing it does with that old list may make the peer see its ranges held twice; no range served by both.
    await consistently(
      async () => {
        const [ra, rb] = await Promise.all([env.servingRanges(a), env.servingRanges(b)]);
        const dropped = logSince(b, fromB).some((l) => l.msg === HELD_TWICE || l.msg === 'letting go of every range');
        return !dropped && !ra.some((r) => rb.includes(r));
      },
      15_000,
      'the peer to let nothing go as held twice, and no range served by both',
      200,
    ).catch(async (err: Error) => {
      const now = await Promise.all([env.servingRanges(a), env.servingRanges(b)]);
      const told = [...logSince(a, fromA).map((l) => ['A', l] as const), ...logSince(b, fromB).map((l) => ['B', l] as const)]
        .filter(([, l]) => DROPS.includes(l.msg ?? '') || ['ranges taken', 'handing ranges back', 'shard Lease not written'].includes(l.msg ?? ''))
        .map(([who, l]) => `${who} ${String(l.time)} ${l.msg} ${JSON.stringify(l.lost ?? l.range ?? l.taken ?? l.ranges ?? '')} ${String(l.why ?? '')}`);
      throw new Error(`${err.message}: serving now ${JSON.stringify(now)} (resumed at ${new Date(resumedAt).toISOString()})\n${told.join('\n')}`);
    });
    assert.match(why, /after listing/, 'the pause fell between the Lease list read and the decision on it (its first let-go was found after listing)');
    // And the two share the work again, every range served.
    await eventually(async () => new Set([...(await env.servingRanges(a)), ...(await env.servingRanges(b))]).size === SHARDS, { timeoutMs: 30_000, what: 'all four ranges served after the resume' });
    process.stderr.write(`(3) the peer served all 4 ranges ${tookAfter} ms after the held list was answered; nothing dropped in the 15 s after the resume\n`);
  } finally {
    a.handle.signal('SIGCONT');
    await proxy.release();
    await Promise.all([a.handle.stop(12_000), b.handle.stop(12_000)]);
    await proxy.close();
  }
});
