// Issue 21, sharded replicas: three replicas of every controller with
// EKSPOSE_SHARDS=12 over 40 namespaces on the real plane, once with
// kube-apiserver's ShardedListAndWatch gate on (the server filters each
// replica's list and watch) and once with it off (each replica filters the
// full stream itself). Both must expose every Deployment exactly once, split
// the caches and the writes between the replicas, hold one WATCH per cache per
// replica at the API server whatever the ranges held (issue 29), and repair a
// user's deletion across a kill -9. Then 1 → 3 → 1 replicas while Deployments
// are created and Services deleted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import { MEMBER_LABEL, rangeIndexOf } from '@ekspose/k8s';
import { apiRequests, apiWatches, inParallel, requestDelta, sampleSum } from '@ekspose/testing';
import { eventually } from './support/poll';
import { APPS, type AppName, CONTROLLER_NAMESPACE, type ControllerProcess, TestEnv, occurrences } from './support/test-env';

const SHARDS = 12;
const REPLICAS = 3;
const LEASE_SECONDS = 8;
const SHARD_ENV = {
  EKSPOSE_SHARDS: String(SHARDS),
  EKSPOSE_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '5',
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '1',
  // Small and many: the test wants every replica to hold work, not throughput.
  EKSPOSE_WORKERS: '4',
};
// Names as teams pick them (they differ early, so FNV-1a spreads them over all 12 ranges; see docs/decisions/0010-shards.md for names that do not).
const TEAMS = ['shop', 'billing', 'search', 'auth', 'media', 'mail', 'chat', 'maps', 'docs', 'ads', 'pay', 'feed', 'checkout', 'catalog', 'cart', 'orders', 'inventory', 'shipping', 'returns', 'reviews'];
const NAMESPACES = TEAMS.flatMap((team) => [`${team}-prod`, `${team}-stage`]);
const PER_NAMESPACE = 2;
const DEPLOYMENTS = NAMESPACES.flatMap((ns) => Array.from({ length: PER_NAMESPACE }, (_, i) => ({ namespace: ns, name: `app-${i}`, ingress: i === 0 })));

interface MemberView {
  identity: string;
  held: number[];
}

async function members(env: TestEnv, app: AppName): Promise<MemberView[]> {
  const list = await env.clients.coordination.listNamespacedLease({ namespace: CONTROLLER_NAMESPACE, labelSelector: `${MEMBER_LABEL}=${app}` });
  return list.items.map((l: V1Lease) => ({
    identity: l.spec?.holderIdentity ?? '',
    held: (l.metadata?.annotations?.['ekspose.io/held'] ?? '').split(',').filter(Boolean).map(Number),
  }));
}

/** Every range held by exactly one live replica of the app, each replica at most its fair share. */
async function settled(env: TestEnv, app: AppName, live: ControllerProcess[], timeoutMs = 60_000): Promise<Map<string, number[]>> {
  return eventually(
    async () => {
      const views = (await members(env, app)).filter((m) => live.some((p) => p.identity === m.identity));
      const all = views.flatMap((v) => v.held).sort((a, b) => a - b);
      const share = Math.ceil(SHARDS / live.length);
      if (all.length !== SHARDS || new Set(all).size !== SHARDS || views.length !== live.length) return undefined;
      if (views.some((v) => v.held.length > share || v.held.length === 0)) return undefined;
      // And each replica serves them (its caches listed), as /readyz says.
      for (const proc of live) {
        const ready = await env.probeJson(proc, '/readyz');
        const shards = ready.body.details.shards as { serving?: number[] } | undefined;
        const held = views.find((v) => v.identity === proc.identity)?.held ?? [];
        if (JSON.stringify(shards?.serving ?? []) !== JSON.stringify(held)) return undefined;
      }
      return new Map(views.map((v) => [v.identity, v.held]));
    },
    { timeoutMs, intervalMs: 250, what: `${app}: ${SHARDS} ranges split over ${live.length} replicas and served` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${env.logs()}`);
  });
}

async function metric(env: TestEnv, proc: ControllerProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await env.scrape(proc), name, labels);
}

function shardSuite(gate: boolean): void {
  describe(`3 replicas of every controller, EKSPOSE_SHARDS=${SHARDS}, ShardedListAndWatch ${gate ? 'on' : 'off'}`, () => {
    let env: TestEnv;
    const procs = new Map<AppName, ControllerProcess[]>();
    /** The WATCH streams of the plane itself (kube-controller-manager), before any replica started. */
    let planeWatches: Map<string, number>;

    before(async () => {
      env = await TestEnv.start({ featureGates: { ShardedListAndWatch: gate } });
      for (const ns of NAMESPACES) await env.createNamespace(ns);
      planeWatches = await apiWatches(env.plane);
      for (const app of APPS) {
        const started: ControllerProcess[] = [];
        for (let i = 0; i < REPLICAS; i++) started.push(await env.startController(app, SHARD_ENV));
        procs.set(app, started);
      }
      for (const app of APPS) await settled(env, app, procs.get(app)!);
      await inParallel(DEPLOYMENTS, 8, (d) => env.createDeployment(d.namespace, d.name, { labels: d.ingress ? { ingReq: 'needed' } : {} }));
    });

    after(async () => {
      await env?.stop();
    });

    it('exposes every Deployment exactly once: one Service (and Ingress where asked), each created by one replica', async () => {
      for (const d of DEPLOYMENTS) {
        await env.waitForService(d.namespace, d.name, () => true, 60_000);
        if (d.ingress) await env.waitForIngress(d.namespace, d.name, () => true, 60_000);
      }
      const deploymentControllers = procs.get('deployment-controller')!;
      const creates = await Promise.all(deploymentControllers.map((p) => metric(env, p, 'ekspose_objects_written_total', { kind: 'service', action: 'create' })));
      assert.equal(creates.reduce((a, b) => a + b, 0), DEPLOYMENTS.length, `Services created per replica: ${creates}`);
      assert.ok(creates.filter((n) => n > 0).length >= 2, `the creates were split between replicas: ${creates}`);
      const ingressCreates = await Promise.all(deploymentControllers.map((p) => metric(env, p, 'ekspose_objects_written_total', { kind: 'ingress', action: 'create' })));
      assert.equal(ingressCreates.reduce((a, b) => a + b, 0), DEPLOYMENTS.filter((d) => d.ingress).length);
      // Exposed is told once per Deployment with an Ingress, by the replica that holds its namespace.
      const held = await settled(env, 'deployment-controller', deploymentControllers);
      for (const d of DEPLOYMENTS.filter((x) => x.ingress)) {
        // Normal Events wait until the burst is over (decision 0013): wait for it, then count.
        await env.waitForEvent(d.namespace, d.name, 'Exposed');
        const exposed = (await env.eventsFor(d.namespace, d.name)).filter((e) => e.reason === 'Exposed');
        assert.equal(exposed.length, 1, `${d.namespace}/${d.name}: one Exposed Event`);
        assert.equal(occurrences(exposed[0]!), 1);
        const holder = [...held].find(([, ranges]) => ranges.includes(rangeIndexOf(d.namespace, SHARDS)))?.[0];
        assert.equal(exposed[0]!.reportingInstance, holder, `${d.namespace}/${d.name} told by the holder of its range`);
      }
    });

    it(`splits the caches: each replica holds only its ranges' Deployments, and says whether the server filtered (${gate ? 'yes' : 'no'})`, async () => {
      for (const app of APPS) {
        const live = procs.get(app)!;
        const held = await settled(env, app, live);
        const cached = await Promise.all(live.map((p) => metric(env, p, 'ekspose_informer_objects', { controller: app, resource: 'deployments' })));
        const expected = live.map((p) => DEPLOYMENTS.filter((d) => (held.get(p.identity) ?? []).includes(rangeIndexOf(d.namespace, SHARDS))).length);
        assert.deepEqual(cached, expected, `${app}: Deployments cached per replica`);
        assert.equal(cached.reduce((a, b) => a + b, 0), DEPLOYMENTS.length, `${app}: every Deployment in exactly one cache`);
        assert.ok(Math.max(...cached) < DEPLOYMENTS.length, `${app}: no replica caches everything`);
        for (const p of live) {
          assert.equal(await metric(env, p, 'ekspose_shard_server_side', { controller: app, resource: 'deployments' }), gate ? 1 : 0, `${p.identity} server side`);
          assert.equal(await metric(env, p, 'ekspose_shard_ranges_held', { controller: app }), held.get(p.identity)?.length);
        }
      }
    });

    it('holds one WATCH stream per cache per replica at the API server, not one per range held', async () => {
      const live = APPS.flatMap((app) => procs.get(app)!);
      for (const app of APPS) await settled(env, app, procs.get(app)!);
      // The caches each replica keeps, by API resource: one series of ekspose_informer_objects per cache
      // (`services`, `services/metadata`, `ingresses/claims`, …; a CRD not served yet is named `<plural>.<group>` and has no watch).
      const caches = new Map<string, number>();
      for (const p of live) {
        for (const s of (await env.scrape(p)).samples.filter((x) => x.name === 'ekspose_informer_objects' && !x.labels['resource']!.includes('.'))) {
          const resource = s.labels['resource']!.split('/')[0]!;
          caches.set(resource, (caches.get(resource) ?? 0) + 1);
        }
      }
      // Streams only drop for a moment (a watch renewed at its timeout): the most of three reads is what is held.
      const held = new Map<string, number>();
      for (let read = 0; read < 3; read++) {
        const now = await apiWatches(env.plane);
        for (const resource of caches.keys()) held.set(resource, Math.max(held.get(resource) ?? 0, (now.get(resource) ?? 0) - (planeWatches.get(resource) ?? 0)));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      const ranges = (await Promise.all(live.map((p) => metric(env, p, 'ekspose_shard_ranges_held')))).reduce((a, b) => a + b, 0);
      const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      process.stderr.write(
        `[shards] gate ${gate ? 'on' : 'off'}: WATCH streams of ${live.length} replicas holding ${ranges} ranges: ${[...held].map(([r, n]) => `${r} ${n}`).join(', ')} = ${sum(held)}; caches kept: ${[...caches].map(([r, n]) => `${r} ${n}`).join(', ')} = ${sum(caches)}\n`,
      );
      assert.ok((held.get('deployments') ?? 0) >= live.length, `every replica watches Deployments: ${held.get('deployments')}`);
      for (const [resource, kept] of caches) assert.ok((held.get(resource) ?? 0) <= kept, `${resource}: ${held.get(resource)} WATCH streams for ${kept} caches`);
    });

    it('compares host claims across replicas: two Deployments served by different replicas on one host keep one Ingress, the older', async () => {
      const live = procs.get('deployment-controller')!;
      const held = await settled(env, 'deployment-controller', live);
      const servedBy = (ns: string) => [...held].find(([, ranges]) => ranges.includes(rangeIndexOf(ns, SHARDS)))?.[0];
      const first = NAMESPACES[0]!;
      const second = NAMESPACES.find((ns) => servedBy(ns) !== servedBy(first))!;
      assert.ok(second, 'two namespaces served by different replicas');
      const host = `shared-${gate ? 'on' : 'off'}.e2e.test`;
      const annotations = { 'ekspose.io/host': host };
      // Both at once: each replica reserves only in its own index, so both may write; the younger must go.
      // Frozen while both Deployments are made, the two replicas wake together and race for the host
      // (briefly: well within the renew deadline, so neither loses its ranges).
      const racers = [first, second].map((ns) => live.find((p) => p.identity === servedBy(ns))!);
      for (const p of racers) assert.ok(p.handle.signal('SIGSTOP'));
      try {
        await Promise.all([first, second].map((ns) => env.createDeployment(ns, 'claim', { labels: { ingReq: 'needed' }, annotations })));
      } finally {
        for (const p of racers) p.handle.signal('SIGCONT');
      }
      const onHost = async () =>
        (await env.clients.networking.listIngressForAllNamespaces()).items.filter((i) => i.spec?.rules?.some((r) => r.host === host));
      // The one told HostConflict is the waiter; the Ingress left on the host is the other one's.
      const waiter = await eventually(
        async () => {
          for (const ns of [first, second]) if ((await env.eventsFor(ns, 'claim')).some((e) => e.reason === 'HostConflict')) return ns;
          return undefined;
        },
        { timeoutMs: 30_000, what: 'HostConflict on one of the two' },
      );
      const holder = waiter === first ? second : first;
      await eventually(
        async () => {
          const ingresses = await onHost();
          return ingresses.length === 1 && ingresses[0]!.metadata!.namespace === holder;
        },
        { timeoutMs: 30_000, what: `only ${holder}'s Ingress on ${host}` },
      ).catch((err: Error) => {
        const lines = racers.flatMap((p) => readFileSync(p.handle.logFile, 'utf8').split('\n').filter((l) => l.includes('/claim')).map((l) => `${p.identity} ${l}`));
        throw new Error(`${err.message}\n${lines.join('\n')}`);
      });
      const warning = (await env.eventsFor(waiter, 'claim')).find((e) => e.reason === 'HostConflict')!;
      assert.match(warning.message ?? '', new RegExp(`${holder}/claim`));
      // The holder goes: the other replica hears it from its cluster-wide claims and takes the host.
      await env.deleteDeployment(holder!, 'claim');
      await env.waitForIngress(waiter, 'claim', (i) => i.spec?.rules?.[0]?.host === host, 30_000);
      assert.equal((await onHost()).length, 1);
    });

    it('repairs a Service deleted while the replica holding its namespace was killed, once its ranges are taken over', async () => {
      const serviceControllers = procs.get('service-controller')!;
      const held = await settled(env, 'service-controller', serviceControllers);
      const victim = serviceControllers[0]!;
      const victimRanges = held.get(victim.identity) ?? [];
      const target = DEPLOYMENTS.find((d) => victimRanges.includes(rangeIndexOf(d.namespace, SHARDS)));
      assert.ok(target, `a Deployment in a range of ${victim.identity} (${victimRanges})`);
      const requestsBefore = await apiRequests(env.plane);
      await victim.handle.kill();
      const killedAt = Date.now();
      await env.deleteService(target.namespace, target.name);
      const back = await env.waitForService(target.namespace, target.name, () => true, (LEASE_SECONDS + 15) * 1000);
      const tookMs = Date.now() - killedAt;
      process.stderr.write(`[shards] gate ${gate ? 'on' : 'off'}: Service deleted after kill -9 of its holder came back ${tookMs} ms after the kill\n`);
      assert.ok(back.metadata?.uid);
      // The new holder never saw the deletion (it listed after it): it has the deployment.exposed record as evidence, or calls it missing.
      // Normal Events wait until the queue is quiet (decision 0013): wait for the repair's, then count.
      const repaired = (events: Awaited<ReturnType<typeof env.eventsFor>>) => events.filter((e) => e.reason === 'ServiceRecreated' || e.reason === 'ServiceCreated');
      await eventually(async () => repaired(await env.eventsFor(target.namespace, target.name)).length > 0, { timeoutMs: 30_000, what: 'the Event of the repair' });
      const told = repaired(await env.eventsFor(target.namespace, target.name));
      assert.equal(told.length, 1, `one Event of the repair: ${told.map((e) => e.reason)}`);
      assert.equal(occurrences(told[0]!), 1, 'put back once');
      const survivors = serviceControllers.filter((p) => p !== victim);
      const after = await settled(env, 'service-controller', survivors);
      assert.equal([...after.values()].flat().length, SHARDS);
      // The take-over lists each kind once per survivor that gained ranges (one list for all it gained in a round), not once per range.
      const lists = requestDelta(await apiRequests(env.plane), requestsBefore);
      const gainers = survivors.filter((p) => (after.get(p.identity) ?? []).some((r) => !(held.get(p.identity) ?? []).includes(r))).length;
      process.stderr.write(
        `[shards] gate ${gate ? 'on' : 'off'}: ${victimRanges.length} ranges moved to ${gainers} replicas: LIST deployments ${lists.get('LIST deployments') ?? 0}, LIST services ${lists.get('LIST services') ?? 0}\n`,
      );
      assert.ok((lists.get('LIST deployments') ?? 0) <= victimRanges.length, `at most one Deployment list per range moved: ${lists.get('LIST deployments')}`);
    });
  });
}

shardSuite(true);
shardSuite(false);

/** The keys a replica's log says it wrote with `msg` (each write is logged once at info, with its key). */
function keysLogged(proc: ControllerProcess, msg: string): string[] {
  const keys: string[] = [];
  for (const line of readFileSync(proc.handle.logFile, 'utf8').split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; key?: string };
      if (entry.msg === msg && entry.key) keys.push(entry.key);
    } catch {
      // a partial last line
    }
  }
  return keys;
}

describe('1 → 3 → 1 replicas of every controller while 2,000 Deployments are created and 200 Services deleted (gate on)', () => {
  const TOTAL = 2000;
  const DELETED = 200;
  let env: TestEnv;
  const procs = new Map<AppName, ControllerProcess[]>();
  const all = (app: AppName) => procs.get(app) ?? [];
  const running = (app: AppName) => all(app).filter((p) => p.handle.running);
  const load = Array.from({ length: TOTAL }, (_, i) => ({ namespace: NAMESPACES[i % NAMESPACES.length]!, name: `load-${i}` }));
  const deleted: Array<{ namespace: string; name: string; uid: string }> = [];

  before(async () => {
    // Room for 2,000 Services (the default range has about 250 addresses).
    env = await TestEnv.start({ apiserverExtraArgs: ['--service-cluster-ip-range=10.0.0.0/16'] });
    for (const ns of NAMESPACES) await env.createNamespace(ns);
    for (const app of APPS) procs.set(app, [await env.startController(app, SHARD_ENV)]);
    for (const app of APPS) await settled(env, app, running(app));
  });

  after(async () => {
    await env?.stop();
  });

  it('loses nothing, orphans nothing, recreates only what users deleted, and no object is written by two replicas', async () => {
    let created = 0;
    // Paced (at most about 40 a second), so that creations go on well after the new replicas serve their ranges.
    const creating = inParallel(load, 4, async (d) => {
      await env.createDeployment(d.namespace, d.name);
      created++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    // Scale out a third of the way in.
    await eventually(() => created >= TOTAL / 3, { timeoutMs: 180_000, what: 'a third of the Deployments created' });
    const scaledOutAt = Date.now();
    await Promise.all(APPS.map(async (app) => procs.set(app, [...all(app), await env.startController(app, SHARD_ENV), await env.startController(app, SHARD_ENV)])));
    // Users delete Services of Deployments already exposed, while the ranges move.
    await inParallel(load.slice(0, DELETED), 4, async (d) => {
      const svc = await env.waitForService(d.namespace, d.name, () => true, 120_000);
      await env.deleteService(d.namespace, d.name);
      deleted.push({ ...d, uid: svc.metadata!.uid! });
    });
    await creating;
    for (const app of APPS) await settled(env, app, running(app));
    process.stderr.write(`[shards] 1 → 3 replicas: every range split and served, checked once the load was done, ${Date.now() - scaledOutAt} ms after the two new replicas started\n`);
    // Back to one: two replicas of each stop (SIGTERM), handing their ranges back.
    await Promise.all(APPS.flatMap((app) => all(app).slice(1).map((p) => p.handle.stop())));
    const scaledInAt = Date.now();
    for (const app of APPS) await settled(env, app, running(app));
    process.stderr.write(`[shards] 3 → 1 replica: every range held and served by the last one ${Date.now() - scaledInAt} ms after the SIGTERMs\n`);

    // Nothing lost: every Deployment has its Service; each one a user deleted is back, as a new object.
    const byKey = async () => new Map((await env.clients.core.listServiceForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=ekspose' })).items.map((svc) => [`${svc.metadata?.namespace}/${svc.metadata?.name}`, svc.metadata?.uid]));
    await eventually(
      async () => {
        const services = await byKey();
        return load.every((d) => services.has(`${d.namespace}/${d.name}`)) && deleted.every((d) => services.get(`${d.namespace}/${d.name}`) !== d.uid);
      },
      { timeoutMs: 180_000, intervalMs: 1_000, what: 'a Service for every Deployment, each deleted one as a new object' },
    );
    // Nothing orphaned: exactly one managed Service per Deployment.
    const managed = await env.clients.core.listServiceForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
    assert.equal(managed.items.length, TOTAL, 'one managed Service per Deployment, no more');
    // Nothing wrongly recreated, nothing written by two replicas (each write is logged by the replica that made it).
    const deletedKeys = deleted.map((d) => `${d.namespace}/${d.name}`).sort();
    const recreated = all('service-controller').flatMap((p) => keysLogged(p, 'service recreated'));
    // A range newly served makes the service-controller look for Deployments without a Service, as at any start:
    // under load it finds some the deployment-controller has not reached yet, and creates them, saying so (ServiceCreated, "was missing").
    const missing = all('service-controller').flatMap((p) => keysLogged(p, 'service created (it was missing)'));
    const repairs = [...recreated, ...missing];
    const creates = all('deployment-controller').flatMap((p) => keysLogged(p, 'service created'));
    assert.deepEqual(recreated.filter((k) => !deletedKeys.includes(k)), [], 'recreated (with evidence of a deletion) only Services users deleted');
    // Each Service written once, and each deleted one once more: by the service-controller, or by the deployment-controller's own reconcile.
    const wrong = load
      .map((d) => `${d.namespace}/${d.name}`)
      .map((key) => ({ key, writes: creates.filter((k) => k === key).length + repairs.filter((k) => k === key).length, expected: deletedKeys.includes(key) ? 2 : 1 }))
      .filter((w) => w.writes !== w.expected);
    assert.deepEqual(wrong, [], 'Services written other than once (twice when a user deleted them)');
    const writersOf = all('deployment-controller').map((p) => `${p.identity}: ${keysLogged(p, 'service created').length}`);
    process.stderr.write(
      `[shards] Services created per deployment-controller replica: ${writersOf.join(', ')}; by the service-controller: ${recreated.length} recreated (of ${DELETED} deleted), ${missing.length} created as missing\n`,
    );
  });

  it(`switching EKSPOSE_SHARDS ${SHARDS} → 1 → ${SHARDS} (a rolling update each way) never has two replicas working at once`, async () => {
    const [sharded] = running('deployment-controller');
    assert.ok(sharded);
    /** Polled all along: a sharded replica serving a range while a leader works is two writers. */
    const overlaps: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const live = running('deployment-controller');
        const states = await Promise.all(live.map(async (p) => ({ p, body: (await env.probeJson(p, '/readyz').catch(() => undefined))?.body })));
        const serving = states.filter((s) => ((s.body?.details.shards as { serving?: number[] } | undefined)?.serving ?? []).length > 0);
        const leading = states.filter((s) => s.body?.details.shards === undefined && s.body?.details.working === true);
        if (serving.length > 0 && leading.length > 0) overlaps.push(`${serving.map((s) => s.p.identity)} serve ranges while ${leading.map((s) => s.p.identity)} leads`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      // 6 → 1: the new pod wins the leader Lease, the sharded one sees it and hands its ranges back, then the leader works.
      const leader = await env.startController('deployment-controller', { ...SHARD_ENV, EKSPOSE_SHARDS: '1' });
      procs.set('deployment-controller', [...all('deployment-controller'), leader]);
      await eventually(async () => (await env.probeJson(leader, '/readyz')).body.details.working === true, { timeoutMs: 60_000, what: 'the leader working' });
      assert.equal(await metric(env, sharded, 'ekspose_shard_refused', { controller: 'deployment-controller' }), 1, 'the sharded replica says why it serves nothing');
      await env.createDeployment(NAMESPACES[0]!, 'after-switch');
      await env.waitForService(NAMESPACES[0]!, 'after-switch', () => true, 30_000);
      // 1 → 6: the leader's pod stops (releasing its Lease); the sharded replica takes everything again.
      await leader.handle.stop();
      await settled(env, 'deployment-controller', [sharded]);
      await env.createDeployment(NAMESPACES[1]!, 'after-switch');
      await env.waitForService(NAMESPACES[1]!, 'after-switch', () => true, 30_000);
    } finally {
      watching = false;
      await watch;
    }
    assert.deepEqual(overlaps, []);
  });
});
