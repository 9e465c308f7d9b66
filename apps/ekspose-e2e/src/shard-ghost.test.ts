// Issue 29, finding 4, on the real plane: a replica killed while an admission
// policy refuses the deletion of Leases. Five minutes later the survivor tries
// to remove the dead replica's member Lease and is refused; the Lease must stay
// what it is, expired, and not come back as a "new" live member whose ranges
// are then held twice (the survivor used to let them go for a lease duration,
// every 5 minutes).
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MEMBER_LABEL } from '@ekspose/k8s';
import { eventually } from './support/poll';
import { CONTROLLER_NAMESPACE, type ControllerProcess, TestEnv } from './support/test-env';
import { refusalPolicy } from './support/refusal-policy';

const APP = 'deployment-controller';
const SHARD_ENV = {
  EKSPOSE_SHARDS: '4',
  EKSPOSE_LEASE_DURATION_SECONDS: '8',
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '5',
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '1',
};

const NO_LEASE_DELETES = refusalPolicy({
  name: 'no-lease-deletes',
  apiGroup: 'coordination.k8s.io',
  resource: 'leases',
  operations: ['DELETE'],
  namespace: CONTROLLER_NAMESPACE,
  message: 'Leases may not be deleted here',
});

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
});

after(async () => {
  await env?.stop();
});

function serving(proc: ControllerProcess): Promise<number[]> {
  return env.servingRanges(proc);
}

it('a Lease delete refused: the dead replica\'s Lease stays expired, the survivor keeps every range through the removal attempt', { timeout: 600_000 }, async () => {
  const applied = await env.plane.kubectl(['apply', '-f', '-'], { input: NO_LEASE_DELETES });
  assert.equal(applied.code, 0, applied.stderr);
  const survivor = await env.startController(APP, SHARD_ENV);
  const victim = await env.startController(APP, SHARD_ENV);
  await eventually(async () => (await serving(survivor)).length === 2 && (await serving(victim)).length === 2, { timeoutMs: 60_000, what: 'two replicas serving 2 of 4 ranges each' });
  // The policy is in force: a delete of a member Lease is refused.
  await eventually(
    async () => {
      const leases = await env.clients.coordination.listNamespacedLease({ namespace: CONTROLLER_NAMESPACE, labelSelector: `${MEMBER_LABEL}=${APP}` });
      const name = leases.items[0]?.metadata?.name ?? 'none';
      const dryRun = await env.plane.kubectl(['-n', CONTROLLER_NAMESPACE, 'delete', 'lease', name, '--dry-run=server']);
      return /may not be deleted/.test(dryRun.stderr);
    },
    { what: 'the admission policy refusing Lease deletes' },
  );

  await victim.handle.kill();
  await eventually(async () => (await serving(survivor)).length === 4, { timeoutMs: 60_000, what: 'the survivor serving all 4 ranges' });
  const from = survivor.handle.readLog().length;
  // Until the survivor has tried to remove the dead Lease (5 minutes after it last changed), and 20 s beyond:
  // it must serve every range at every look, twice a second.
  let refusedAt: number | undefined;
  let looks = 0;
  while (refusedAt === undefined || Date.now() - refusedAt < 20_000) {
    const now = await serving(survivor);
    looks++;
    assert.equal(now.length, 4, `the survivor serves ${JSON.stringify(now)} after ${looks} looks:\n${survivor.handle.logTail(20)}`);
    if (refusedAt === undefined && survivor.handle.readLog().slice(from).includes('stale shard Lease not removed')) refusedAt = Date.now();
    assert.ok(looks < 2 * 480, 'the survivor never tried to remove the dead replica\'s Lease');
    await sleep(500);
  }
  const log = survivor.handle.readLog().slice(from);
  assert.doesNotMatch(log, /ranges held by another replica too/);
  const left = await env.clients.coordination.listNamespacedLease({ namespace: CONTROLLER_NAMESPACE, labelSelector: `${MEMBER_LABEL}=${APP}` });
  assert.equal(left.items.length, 2, 'the dead replica\'s Lease is still there (its delete refused)');
});
