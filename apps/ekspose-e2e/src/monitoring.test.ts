// The monitoring component (manifests/monitoring) for real: its ServiceMonitors
// and PrometheusRule accepted by an API server that has the Prometheus
// Operator's CRDs, the rules checked by promtool, and each alert evaluated by
// `promtool test rules` against series recorded from running controllers: a
// healthy scrape, then one taken after the trouble each alert is about was
// made to happen (an admission policy refusing Services, an invalid
// Deployment, a Service deleted again and again, NATS stopped, a Lease held by
// someone else).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { V1MicroTime, loadAllYaml, loadYaml } from '@kubernetes/client-node';
import { type MetricsPage, ensureOpsBinaries, helmTemplateArgs, httpGet, runCaptured, workspaceRoot } from '@ekspose/testing';
import { MANIFESTS, MANIFESTS_NAMESPACE, installMonitoringCrds, kubectlOk, renderWithMonitoring } from './support/manifests';
import { eventually } from './support/poll';
import { type ControllerProcess, CONTROLLER_NAMESPACE, TestEnv, leaseName } from './support/test-env';

const NS = 'monitoring-app';
const FROZEN_NS = 'monitoring-frozen';
/** How often the test pretends Prometheus scraped, and for how long. */
const STEP_MINUTES = 1;
const STEPS = 60;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PrometheusRule {
  spec: { groups: Array<{ name: string; rules: AlertRule[] }> };
}

let env: TestEnv;
let ops: string;
let work: string;
let procs: ControllerProcess[] = [];
const rule = loadYaml<PrometheusRule>(readFileSync(join(MANIFESTS, 'monitoring', 'prometheusrule.yaml'), 'utf8'));
const alerts = rule.spec.groups.flatMap((g) => g.rules);

async function kubectl(args: string[], input?: string): Promise<string> {
  return (await kubectlOk(env.plane, args, input)).stdout;
}

/** The rules file promtool reads: the PrometheusRule's spec is exactly Prometheus's rule-file format. */
function writeRulesFile(): string {
  const path = join(work, 'ekspose.rules.json');
  writeFileSync(path, JSON.stringify(rule.spec));
  return path;
}

/** A series selector in PromQL's text form, as promtool's input_series take them. */
function seriesName(name: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return `${name}{${inner}}`;
}

/**
 * promtool input series from two real scrapes of each controller, with the
 * labels Prometheus adds (namespace, pod): a gauge holds scrape A's value,
 * then B's; a counter grows from A by (B - A) every step, as it would if the
 * trouble seen between the scrapes kept going. `before` alone: the healthy state.
 */
function inputSeries(scrapes: Array<{ proc: ControllerProcess; before: MetricsPage; after?: MetricsPage }>) {
  // Each scrape answered: Prometheus's own `up` is 1, with job="<controller>" (the ServiceMonitors' jobLabel).
  const series: Array<{ series: string; values: string }> = scrapesFailing(scrapes.map((s) => s.proc), 1);
  for (const { proc, before: a, after: b = a } of scrapes) {
    const target = { namespace: CONTROLLER_NAMESPACE, pod: proc.identity };
    const key = (s: { name: string; labels: Record<string, string> }) => seriesName(s.name, { ...s.labels, ...target });
    const earlier = new Map(a.samples.filter((s) => s.name.startsWith('ekspose_')).map((s) => [key(s), s.value]));
    for (const s of b.samples.filter((x) => x.name.startsWith('ekspose_'))) {
      if (!Number.isFinite(s.value)) continue;
      const family = s.name.replace(/_(bucket|sum|count|total)$/, '');
      const type = b.types.get(s.name) ?? b.types.get(family) ?? 'untyped';
      const was = earlier.get(key(s));
      if (type === 'gauge' || type === 'untyped') {
        series.push({ series: key(s), values: was === undefined ? `${s.value}+0x${STEPS}` : `${was} ${s.value}+0x${STEPS - 1}` });
      } else {
        const from = was ?? 0;
        series.push({ series: key(s), values: `${from}+${Math.max(0, s.value - from)}x${STEPS}` });
      }
    }
  }
  return series;
}

/** Prometheus's `up` of each controller's target: 0 for a scrape that got nothing (no answer, a 403, a TLS error). */
function scrapesFailing(procs: ControllerProcess[], up: 0 | 1 = 0) {
  return procs.map((p) => ({ series: seriesName('up', { job: p.app, namespace: CONTROLLER_NAMESPACE, pod: p.identity }), values: `${up}+0x${STEPS}` }));
}

/**
 * What Prometheus makes of an alert's annotations for one set of labels (they use nothing but
 * `{{ $labels.x }}`): the labels of the expression's result, not the rule's own labels.
 */
function rendered(alert: AlertRule, labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(alert.annotations ?? {})) out[k] = v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => labels[l] ?? '');
  return out;
}

/**
 * The alerts expected to fire, as promtool's exp_alerts, with their full labels and rendered
 * annotations. An alert name may have several rules: those of one controller (its absence
 * rules) carry a `controller` label of their own and are the ones meant by `absent`.
 */
function expected(name: string, seriesLabels: Array<Record<string, string>>, { absent = false } = {}) {
  const rules = alerts.filter((a) => a.alert === name);
  assert.ok(rules.length > 0, `the PrometheusRule has ${name}`);
  return {
    alertname: name,
    exp_alerts: seriesLabels.map((l) => {
      const alert = rules.find((r) => (absent ? r.labels?.['controller'] === l['controller'] : r.labels?.['controller'] === undefined));
      assert.ok(alert, `a rule ${name} for ${JSON.stringify(l)}`);
      return { exp_labels: { ...l, ...alert.labels }, exp_annotations: rendered(alert, l) };
    }),
  };
}

async function promtoolTest(name: string, series: ReturnType<typeof inputSeries>, expectations: Array<{ alertname: string; exp_alerts: unknown[] }>, rulesFile = writeRulesFile()) {
  const file = join(work, `${name}.test.json`);
  writeFileSync(
    file,
    JSON.stringify({
      rule_files: [rulesFile],
      evaluation_interval: `${STEP_MINUTES}m`,
      tests: [{ interval: `${STEP_MINUTES}m`, input_series: series, alert_rule_test: expectations.map((e) => ({ eval_time: '20m', ...e })) }],
    }),
  );
  const run = await runCaptured(join(ops, 'promtool'), ['test', 'rules', file], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, `promtool test rules (${name}) failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /SUCCESS/);
}

describe('monitoring: ServiceMonitors and alerts', { timeout: 300_000 }, () => {
  before(async () => {
    ops = await ensureOpsBinaries();
    work = mkdtempSync(join(tmpdir(), 'ekspose-monitoring-'));
    env = await TestEnv.start({ controllerManager: false });
    await installMonitoringCrds(env.plane, ops);
  });

  after(async () => {
    await env?.stop();
  });

  it('the component renders with the manifests, and the API server accepts every object (server-side dry run)', async () => {
    const rendered = await renderWithMonitoring(env.plane);
    for (const app of ['deployment-controller', 'service-controller', 'ingress-controller']) {
      assert.match(rendered, new RegExp(`kind: ServiceMonitor\\nmetadata:\\n(  .*\\n)*  name: ${app}\\n`), `ServiceMonitor ${app}`);
      assert.match(rendered, new RegExp(`kind: Service\\nmetadata:\\n(  .*\\n)*  name: ${app}-metrics\\n`), `Service ${app}-metrics`);
    }
    await kubectl(['create', 'namespace', MANIFESTS_NAMESPACE]);
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], rendered);
    assert.match(out, /servicemonitor.monitoring.coreos.com\/deployment-controller created \(server dry run\)/);
    assert.match(out, /prometheusrule.monitoring.coreos.com\/ekspose created \(server dry run\)/);
    // Each ServiceMonitor selects exactly its controller's metrics Service.
    const services = rendered.split('\n---\n').filter((doc) => /^kind: Service$/m.test(doc) && /-metrics$/m.test(doc));
    assert.equal(services.length, 3);
  });

  it('promtool check rules accepts every rule', async () => {
    const run = await runCaptured(join(ops, 'promtool'), ['check', 'rules', writeRulesFile()], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
    assert.equal(alerts.length, 14);
  });

  it('each alert, evaluated on series scraped from running controllers, fires for its trouble and not before', async () => {
    // Someone else holds the ingress-controller's Lease (for an hour): its replica runs, never leads.
    await env.clients.coordination.createNamespacedLease({
      namespace: CONTROLLER_NAMESPACE,
      body: {
        metadata: { name: leaseName('ingress-controller') },
        spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 3600, acquireTime: new V1MicroTime(), renewTime: new V1MicroTime() },
      },
    });
    // The Gateway API is installed: its informers run, until its CRD is removed below.
    await env.plane.installGatewayApi();
    procs = await Promise.all((['deployment-controller', 'service-controller', 'ingress-controller'] as const).map((app) => env.startController(app)));
    const [dc, sc] = procs as [ControllerProcess, ControllerProcess, ControllerProcess];
    await Promise.all([dc, sc].map((p) => p.handle.waitForLog('started leading', { timeoutMs: 30_000 })));
    await env.createNamespace(NS);
    await env.createDeployment(NS, 'web');
    await env.waitForService(NS, 'web');
    const healthy = await Promise.all(procs.map(async (proc) => ({ proc, before: await env.scrape(proc) })));

    // Trouble, one kind per alert.
    await env.createNamespace(FROZEN_NS);
    await kubectl(['apply', '-f', '-'], FREEZE_SERVICES);
    // Policies take effect a moment after they are made: wait until a dry run is refused.
    await eventually(async () => /frozen in this namespace/.test((await env.plane.kubectl(['-n', FROZEN_NS, 'create', 'service', 'clusterip', 'probe', '--tcp=80', '--dry-run=server'])).stderr), {
      what: 'the admission policy refusing Services',
    });
    await env.createDeployment(FROZEN_NS, 'refused');
    await env.createDeployment(NS, 'bad-port', { labels: { port: 'abc' } });
    for (let i = 0; i < 6; i++) {
      const old = (await env.waitForService(NS, 'web')).metadata?.uid;
      await env.deleteService(NS, 'web');
      await env.waitForService(NS, 'web', (s) => s.metadata?.uid !== old);
    }
    await env.waitForEvent(FROZEN_NS, 'refused', 'ServiceRefused');
    // Someone uninstalls the Gateway API under running controllers: their HTTPRoute informers cannot list or watch.
    await kubectl(['delete', 'crd', 'httproutes.gateway.networking.k8s.io']);
    const routesFailing = async (p: ControllerProcess) =>
      (await env.scrape(p)).samples.filter((s) => s.name === 'ekspose_informer_failing_seconds' && s.labels['resource']?.startsWith('httproutes') && s.value > 0).length === 2;
    await eventually(async () => (await routesFailing(dc)) && (await routesFailing(procs[2]!)), {
      what: 'the deployment- and ingress-controller reporting their httproutes informers failing',
    });
    await env.plane.stopNats();
    await eventually(async () => (await Promise.all(procs.map((p) => env.scrape(p)))).every((m) => m.samples.some((s) => s.name === 'ekspose_nats_connected' && s.value === 0)), {
      what: 'every controller reporting NATS lost',
    });
    const troubled = await Promise.all(healthy.map(async (h) => ({ ...h, after: await env.scrape(h.proc) })));

    const ctl = (app: string) => ({ controller: app, namespace: CONTROLLER_NAMESPACE });
    const none = (name: string) => expected(name, []);
    // Healthy: nothing fires but the Lease someone else holds.
    await promtoolTest('healthy', inputSeries(healthy), [
      none('EksposeReconcileErrors'),
      expected('EksposeNoLeader', [ctl('ingress-controller')]),
      none('EksposeControllerDown'),
      none('EksposeNATSDisconnected'),
      none('EksposeNATSDown'),
      none('EksposeInformerFailing'),
      none('EksposeInvalidSpecs'),
      none('EksposeFrequentRecreations'),
    ]);
    // After the trouble: each alert fires, with the labels that say where.
    await promtoolTest('troubled', inputSeries(troubled), [
      expected('EksposeReconcileErrors', [ctl('deployment-controller')]),
      expected('EksposeNoLeader', [ctl('ingress-controller')]),
      expected(
        'EksposeNATSDisconnected',
        procs.map((p) => ({ namespace: CONTROLLER_NAMESPACE, pod: p.identity })),
      ),
      expected('EksposeNATSDown', [{ namespace: CONTROLLER_NAMESPACE }]),
      none('EksposeControllerDown'),
      expected(
        'EksposeInformerFailing',
        (['deployment-controller', 'ingress-controller'] as const).flatMap((app) => ['httproutes', 'httproutes/metadata'].map((resource) => ({ ...ctl(app), resource }))),
      ),
      expected('EksposeInvalidSpecs', [ctl('deployment-controller')]),
      expected('EksposeFrequentRecreations', [{ ...ctl('service-controller'), kind: 'service' }]),
    ]);

    // The controllers stopped: a scrape gets nothing, Prometheus's `up` is 0 and no ekspose_ series
    // is left, which no comparison of one can fire on. The absence rules do, for each controller.
    await Promise.all(procs.map((p) => p.handle.stop(12_000)));
    const nothing = await Promise.all(procs.map((p) => env.scrape(p).then(() => 'an answer', (err: Error) => err.message)));
    assert.ok(nothing.every((n) => n !== 'an answer'), `no controller answers a scrape: ${nothing.join('; ')}`);
    const apps = procs.map((p) => ({ controller: p.app }));
    const outage = [
      expected('EksposeNoLeader', apps, { absent: true }),
      expected('EksposeControllerDown', apps, { absent: true }),
      none('EksposeReconcileErrors'),
      none('EksposeNATSDisconnected'),
      none('EksposeNATSDown'),
      none('EksposeInformerFailing'),
      none('EksposeInvalidSpecs'),
      none('EksposeFrequentRecreations'),
    ];
    await promtoolTest('stopped', scrapesFailing(procs), outage);
    // And with no target left at all (the Deployments deleted, or the ServiceMonitors' selector matching nothing).
    await promtoolTest('no-targets', [], outage);
  });

  it('EksposeShardRangeUnserved, on scrapes of sharded replicas: silent while every range is served, fires when a killed replica\'s ranges are served by nobody, silent once taken over', async () => {
    const app = 'service-controller';
    // A leader of this controller would hold every range (a rolling update from 1 to N): it stops first.
    await Promise.all(procs.filter((p) => p.app === app).map((p) => p.handle.stop()));
    const replicas = [await env.startController(app, { EKSPOSE_SHARDS: '4' }), await env.startController(app, { EKSPOSE_SHARDS: '4' })];
    procs.push(...replicas);
    const held = async (p: ControllerProcess) => (await env.scrape(p)).samples.find((s) => s.name === 'ekspose_shard_ranges_held')?.value;
    await eventually(async () => (await held(replicas[0]!)) === 2 && (await held(replicas[1]!)) === 2, { timeoutMs: 60_000, what: 'two replicas serving 2 of 4 ranges each' });
    const healthy = await Promise.all(replicas.map(async (proc) => ({ proc, before: await env.scrape(proc) })));
    assert.ok(healthy.every((h) => h.before.samples.some((s) => s.name === 'ekspose_shard_count' && s.value === 4)), 'each replica says the count');

    // kill -9 one: until the survivor takes its ranges over (at the Lease's expiry), nobody serves them.
    const [survivor, victim] = replicas as [ControllerProcess, ControllerProcess];
    await victim.handle.kill();
    const unserved = await env.scrape(survivor);
    assert.equal(unserved.samples.find((s) => s.name === 'ekspose_shard_ranges_held')?.value, 2, 'scraped before the take-over');
    await eventually(async () => (await held(survivor)) === 4, { timeoutMs: 60_000, what: 'the survivor serving all 4 ranges' });
    const takenOver = await env.scrape(survivor);

    const ctl = { controller: app, namespace: CONTROLLER_NAMESPACE };
    // The killed replica's series end with it (its target is down): only the survivor's remain.
    await promtoolTest('shards-healthy', inputSeries(healthy), [expected('EksposeShardRangeUnserved', [])]);
    await promtoolTest('shards-unserved', inputSeries([{ proc: survivor, before: healthy[0]!.before, after: unserved }]), [expected('EksposeShardRangeUnserved', [ctl])]);
    await promtoolTest('shards-taken-over', inputSeries([{ proc: survivor, before: takenOver }]), [expected('EksposeShardRangeUnserved', [])]);
  });
});

describe('monitoring: the NATS alerts of the chart (nats.metrics.enabled)', { timeout: 300_000 }, () => {
  let natsEnv: TestEnv;
  before(async () => {
    ops = await ensureOpsBinaries();
    work = mkdtempSync(join(tmpdir(), 'ekspose-monitoring-nats-'));
    natsEnv = await TestEnv.start({ controllerManager: false, natsNodes: 3 });
  });
  after(async () => {
    await natsEnv?.stop();
  });

  it('EksposeNATSAbsent and EksposeNATSServerDown fire on the servers\' statistics as they go, and not before', async () => {
    const chartRun = await runCaptured(
      join(ops, 'helm'),
      helmTemplateArgs(['template', 'ekspose', join(workspaceRoot(), 'charts', 'ekspose'), '-n', CONTROLLER_NAMESPACE, '--set', 'nats.credentials.existingSecret=x', '--set', 'nats.metrics.enabled=true', '--set', 'monitoring.prometheusRule.enabled=true']),
      { timeoutMs: 60_000, env: { ...process.env, HELM_CACHE_HOME: join(work, 'helm'), HELM_CONFIG_HOME: join(work, 'helm'), HELM_DATA_HOME: join(work, 'helm') } },
    );
    assert.equal(chartRun.code, 0, chartRun.stderr);
    const prometheusRule = loadAllYaml(chartRun.stdout).find((o) => (o as { kind?: string })?.kind === 'PrometheusRule') as PrometheusRule;
    const group = prometheusRule.spec.groups.find((g) => g.name === 'ekspose-nats');
    assert.ok(group, 'the chart adds the NATS group');
    const rulesFile = join(work, 'nats.rules.json');
    writeFileSync(rulesFile, JSON.stringify({ groups: [group] }));
    const natsRule = (name: string) => group.rules.find((r) => r.alert === name)!;
    const fires = (name: string, labels: Array<Record<string, string>>) => ({
      alertname: name,
      exp_alerts: labels.map((l) => ({ exp_labels: { ...l, ...natsRule(name).labels }, exp_annotations: rendered(natsRule(name), l) })),
    });
    // What the exporter makes of each server's /varz (gnatsd_varz_<field>), with the labels Prometheus adds; a server that does not answer gives none.
    const varzSeries = async () => {
      const out: Array<{ series: string; values: string }> = [];
      for (const [i, node] of natsEnv.plane.natsNodes.entries()) {
        const varz = await httpGet(`${node.monitorUrl}/varz`).catch(() => undefined);
        if (varz?.status !== 200) continue;
        const inMsgs = (JSON.parse(varz.body) as { in_msgs: number }).in_msgs;
        out.push({ series: seriesName('gnatsd_varz_in_msgs', { job: 'nats', namespace: CONTROLLER_NAMESPACE, pod: `nats-${i}`, server_id: node.monitorUrl }), values: `${inMsgs}+0x${STEPS}` });
      }
      return out;
    };
    const all = await varzSeries();
    assert.equal(all.length, 3, 'three servers answer');
    await promtoolTest('nats-healthy', all, [fires('EksposeNATSAbsent', []), fires('EksposeNATSServerDown', [])], rulesFile);
    await natsEnv.plane.natsNodes[2]!.kill();
    const two = await varzSeries();
    assert.equal(two.length, 2);
    await promtoolTest('nats-one-down', two, [fires('EksposeNATSAbsent', []), fires('EksposeNATSServerDown', [{ namespace: CONTROLLER_NAMESPACE }])], rulesFile);
    await Promise.all(natsEnv.plane.natsNodes.slice(0, 2).map((n) => n.kill()));
    const none = await varzSeries();
    assert.equal(none.length, 0, 'no server answers');
    await promtoolTest('nats-all-down', none, [fires('EksposeNATSAbsent', [{ job: 'nats' }]), fires('EksposeNATSServerDown', [])], rulesFile);
  });
});

/** A ValidatingAdmissionPolicy refusing every new Service in FROZEN_NS: a refusal only the user can lift. */
const FREEZE_SERVICES = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: freeze-services
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["services"]
  validations:
    - expression: "false"
      message: "Services are frozen in this namespace"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: freeze-services
spec:
  policyName: freeze-services
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: ${FROZEN_NS}
`;
