// The shipped manifests (manifests/) against a real kube-apiserver: they render,
// they apply (server-side dry run, so with the API's validation and admission,
// PodSecurity "restricted" included), they grant exactly docs/design.md §6 and run
// what §5 asks for; and the three controllers, each signed in as its own
// ServiceAccount with only those grants, do their whole job without a 403.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type {
  CoreV1Event,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Lease,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { type DeploymentLike, parseExposeSpec, shouldWatchNamespace } from '@ekspose/labels';
import { type Settings, loadSettings } from '@ekspose/expose';
import {
  type ControlPlane,
  type NatsUser,
  type ProcessHandle,
  NATS_USERS,
  freePorts,
  natsPasswordVariable,
  runCaptured,
  startControlPlane,
  startProcess,
  workspaceRoot,
} from '@ekspose/testing';
import { RBAC_TABLE, MANIFESTS, MANIFESTS_NAMESPACE as NAMESPACE, kubectlOk, writeTokenKubeconfig } from './support/manifests';
import { eventually } from './support/poll';
import { APPS, type AppName as App, leaseName, occurrences } from './support/test-env';

const ROOT = workspaceRoot();
const SAMPLES_NAMESPACE = 'ekspose-samples';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** docs/design.md §6, "leases (own namespace)" at EKSPOSE_SHARDS=1: the leader Lease's get create update (manifests/member-leases adds the member Leases'). */
const LEASE_VERBS = ['get', 'create', 'update'];

/** Every object manifests/ makes: `Kind namespace/name`, the ConfigMap without its hash suffix. */
const EXPECTED_OBJECTS = [
  'Namespace /ekspose',
  'ClusterRole /ekspose-metrics-reader',
  'ConfigMap ekspose/ekspose-settings',
  'ConfigMap ekspose/nats-config',
  'PodDisruptionBudget ekspose/nats',
  'Service ekspose/nats',
  'Service ekspose/nats-headless',
  'StatefulSet ekspose/nats',
  'NetworkPolicy ekspose/nats',
  ...APPS.flatMap((app) => [
    `ServiceAccount ekspose/${app}`,
    `ClusterRole /ekspose-${app}`,
    `ClusterRoleBinding /ekspose-${app}`,
    `Role ekspose/ekspose-${app}-leader-election`,
    `RoleBinding ekspose/ekspose-${app}-leader-election`,
    `Deployment ekspose/${app}`,
    `PodDisruptionBudget ekspose/${app}`,
  ]),
].sort();

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

let plane: ControlPlane;

const kubectl = (args: string[], input?: string) => kubectlOk(plane, args, input);

/** `kubectl apply --dry-run=server -o json` of a kustomization: what the API server would store. */
async function dryRun(dir: string): Promise<{ items: KubeObject[]; stderr: string }> {
  const { stdout, stderr } = await kubectl(['apply', '--dry-run=server', '-k', dir, '-o', 'json']);
  const parsed = JSON.parse(stdout) as { kind: string; items?: KubeObject[] } & KubeObject;
  return { items: parsed.kind === 'List' ? (parsed.items ?? []) : [parsed], stderr };
}

const describeObject = (o: KubeObject): string =>
  `${o.kind} ${o.metadata.namespace ?? ''}/${o.kind === 'ConfigMap' ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '') : o.metadata.name}`;

function only<T>(items: KubeObject[], kind: string, name: string): T {
  const found = items.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `expected one ${kind} ${name}, found ${found.length}`);
  return found[0] as unknown as T;
}

/** Rules as `<apiGroup>/<resource>` → sorted verbs; fails on anything a flat table cannot express. */
function flattenRules(rules: V1PolicyRule[] | undefined): Record<string, string[]> {
  const flat: Record<string, Set<string>> = {};
  for (const rule of rules ?? []) {
    assert.equal(rule.nonResourceURLs, undefined, 'no nonResourceURLs');
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) (flat[`${group}/${resource}`] ??= new Set()).add(verb);
      }
    }
  }
  return Object.fromEntries(Object.entries(flat).map(([key, verbs]) => [key, [...verbs].sort()]));
}

const sortedVerbs = (table: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(table).map(([key, verbs]) => [key, [...verbs].sort()]));

function present<T>(value: T | undefined, what: string): T {
  assert.ok(value !== undefined, `${what} is missing`);
  return value;
}

/** The container port number behind a probe's named (or numbered) port. */
function portNumber(container: V1Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** GET over HTTPS, trusting any certificate (the controllers' is self-signed, as a scraper's insecure_skip_verify would). */
function httpsGet(port: number, path: string, authorization?: string): Promise<{ status: number; body: string; certificate: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, headers: authorization ? { authorization } : {} },
      (res) => {
        let body = '';
        const certificate = Object.keys((res.socket as TLSSocket).getPeerCertificate()).length > 0;
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, certificate }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function settingsConfigMap(items: KubeObject[]): V1ConfigMap {
  return present(items.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('ekspose-settings-')), 'settings ConfigMap') as unknown as V1ConfigMap;
}

/**
 * Checks a rendered nats-config with the real nats-server (`-t`: parse and check,
 * do not start), given every variable the StatefulSet sets; returns the files.
 */
async function checkNatsConfig(items: KubeObject[]): Promise<{ conf: string; auth: string }> {
  const configMap = present(items.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('nats-config-')), 'nats-config') as unknown as V1ConfigMap;
  const dir = mkdtempSync(join(tmpdir(), 'ekspose-nats-conf-'));
  try {
    for (const [file, text] of Object.entries(configMap.data ?? {})) writeFileSync(join(dir, file), text);
    const sts = only<V1StatefulSet>(items, 'StatefulSet', 'nats');
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
    const container = sts.spec?.template.spec?.containers[0];
    for (const e of container?.env ?? []) env[e.name] = e.value ?? `from${e.valueFrom?.secretKeyRef?.key.replace(/-/g, '') ?? 'field'}`;
    // The arguments but --config, with $(VAR) put in as the kubelet does.
    const args = (container?.args ?? []).filter((a) => !a.startsWith('--config=')).map((a) => a.replace(/\$\((\w+)\)/g, (_m, v: string) => env[v] ?? ''));
    const checked = await runCaptured(join(plane.binDir, 'nats-server'), ['-c', join(dir, 'nats.conf'), ...args, '-t'], { env, timeoutMs: 10_000 });
    assert.equal(checked.code, 0, `nats-server -t: ${checked.stdout}${checked.stderr}`);
    return { conf: configMap.data?.['nats.conf'] ?? '', auth: configMap.data?.['auth.conf'] ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The settings every controller reads: the shipped ConfigMap plus what the Deployment's env adds. */
function shippedSettings(items: KubeObject[], podName: string): Settings {
  const configMap = settingsConfigMap(items);
  const loaded = loadSettings({ ...configMap.data, POD_NAMESPACE: NAMESPACE, POD_NAME: podName });
  assert.ok(loaded.ok, `manifests/settings.env is rejected: ${loaded.ok ? '' : loaded.problems.join('; ')}`);
  return loaded.settings;
}

before(async () => {
  plane = await startControlPlane({
    controllerManager: false,
    nats: false,
    log: (line) => process.stderr.write(`[plane] ${line}\n`),
  });
});

after(async () => {
  await plane?.stop();
});

describe('manifests/', () => {
  let items: KubeObject[];
  let warnings: string;

  before(async () => {
    // A server-side dry run of a namespaced object needs its namespace to exist
    // (nothing is created, so the Namespace in the same apply does not count).
    await kubectl(['apply', '-f', join(MANIFESTS, 'namespace.yaml')]);
    ({ items, stderr: warnings } = await dryRun(MANIFESTS));
  });

  it('renders with kubectl kustomize, the same objects the dry run makes', async () => {
    const { stdout } = await kubectl(['kustomize', MANIFESTS]);
    const rendered = [...stdout.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(rendered, items.map((o) => o.kind).sort());
  });

  it('applies (server-side dry run) with no PodSecurity "restricted" warning, and makes exactly the expected objects', () => {
    assert.doesNotMatch(warnings, /warning/i);
    assert.deepEqual(items.map(describeObject).sort(), EXPECTED_OBJECTS);
  });

  for (const app of APPS) {
    describe(app, () => {
      it('ClusterRole grants exactly its row of docs/design.md §6, bound to its ServiceAccount', () => {
        const role = only<V1ClusterRole>(items, 'ClusterRole', `ekspose-${app}`);
        assert.deepEqual(flattenRules(role.rules), sortedVerbs(RBAC_TABLE[app]));
        assert.ok(
          role.rules?.every((r) => r.resourceNames === undefined && !r.verbs.includes('*')),
          'no wildcards, no name limits that would break the cluster-wide informers',
        );
        const binding = only<V1ClusterRoleBinding>(items, 'ClusterRoleBinding', `ekspose-${app}`);
        assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `ekspose-${app}` });
        assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: app, namespace: NAMESPACE }]);
      });

      it('Role: Leases in the controllers\' namespace only: get, update its own leader Lease by name, and create; nothing of another Lease', () => {
        const role = only<V1Role>(items, 'Role', `ekspose-${app}-leader-election`);
        assert.equal(role.metadata?.namespace, NAMESPACE);
        assert.deepEqual(flattenRules(role.rules), { 'coordination.k8s.io/leases': [...LEASE_VERBS].sort() });
        // get and update name the leader Lease; create cannot be limited by name (manifests/lease-policy can).
        const rules = (role.rules ?? []).map((r) => ({ names: r.resourceNames ?? [], verbs: [...r.verbs].sort() }));
        assert.deepEqual(rules, [
          { names: [leaseName(app)], verbs: ['get', 'update'] },
          { names: [], verbs: ['create'] },
        ]);
        const binding = only<V1RoleBinding>(items, 'RoleBinding', `ekspose-${app}-leader-election`);
        assert.equal(binding.metadata?.namespace, NAMESPACE);
        assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `ekspose-${app}-leader-election` });
        assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: app, namespace: NAMESPACE }]);
      });

      it('Deployment: 2 replicas of this version\'s image, probes, metrics port, non-root read-only, downward-API identity, EKSPOSE_SHARDS 1', () => {
        const deployment = only<V1Deployment>(items, 'Deployment', app);
        const pod = present(deployment.spec?.template.spec, 'pod spec');
        assert.equal(deployment.spec?.replicas, 2);
        assert.equal(pod.serviceAccountName, app);
        assert.equal(pod.containers.length, 1);
        const c = present(pod.containers[0], 'container');
        assert.equal(c.image, `ghcr.io/ekspose/${app}:${VERSION}`);

        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
        assert.equal(portNumber(c, c.livenessProbe?.httpGet?.port), 8081);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
        assert.equal(portNumber(c, c.readinessProbe?.httpGet?.port), 8081);
        assert.equal(c.ports?.find((p) => p.name === 'metrics')?.containerPort, 8080);

        assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], 'cpu and memory requests');
        assert.ok(c.resources?.limits?.['memory'], 'a memory limit');

        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, 'a numeric non-root UID');
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
        assert.equal(c.securityContext?.capabilities?.add, undefined);

        const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
        assert.equal(env['POD_NAMESPACE']?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
        assert.equal(env['POD_NAME']?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
        const configMap = settingsConfigMap(items);
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: configMap.metadata?.name } }]);
        // Per controller, in the Deployment (where it wins over envFrom), not in the shared settings.
        assert.deepEqual(env['EKSPOSE_SHARDS'], { name: 'EKSPOSE_SHARDS', value: '1' });
        assert.equal(configMap.data?.['EKSPOSE_SHARDS'], undefined, 'settings.env leaves EKSPOSE_SHARDS to the Deployments');
        const loaded = loadSettings({ ...configMap.data, EKSPOSE_SHARDS: env['EKSPOSE_SHARDS']?.value, POD_NAMESPACE: NAMESPACE, POD_NAME: 'x' });
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.join('; '));
        assert.equal(loaded.settings.shards, 1);
      });

      it('PodDisruptionBudget: one of the Deployment\'s pods at a time, and never a blocked drain', () => {
        const pdb = only<V1PodDisruptionBudget>(items, 'PodDisruptionBudget', app);
        const deployment = only<V1Deployment>(items, 'Deployment', app);
        // maxUnavailable, not minAvailable: scaled down to 1 replica, a drain still goes through.
        assert.deepEqual([pdb.spec?.maxUnavailable, pdb.spec?.minAvailable], [1, undefined]);
        assert.equal(pdb.spec?.unhealthyPodEvictionPolicy, 'AlwaysAllow', 'a crash-looping pod does not block a drain');
        assert.deepEqual(pdb.spec?.selector?.matchLabels, deployment.spec?.selector.matchLabels);
      });
    });
  }

  it("settings: valid for the controllers, NATS_URL names the nats Service of the pods' own namespace, and the controllers skip their own namespace", () => {
    const settings = shippedSettings(items, 'x');
    const nats = only<V1Service>(items, 'Service', 'nats');
    // No namespace in the name: the pod's DNS search path completes it, so an overlay's `namespace:` is all it takes.
    assert.equal(settings.natsUrl, `nats://${nats.metadata?.name}:${nats.spec?.ports?.[0]?.port}`);
    assert.equal(shouldWatchNamespace(NAMESPACE, settings), false);
    assert.equal(shouldWatchNamespace(SAMPLES_NAMESPACE, settings), true);
  });

  it('NATS: a 3-node JetStream cluster (valid config, Parallel start, spread, PDB), store on a volume claim, non-root and read-only', async () => {
    const sts = only<V1StatefulSet>(items, 'StatefulSet', 'nats');
    const pod = present(sts.spec?.template.spec, 'pod spec');
    const c = present(pod.containers[0], 'container');
    // The nats-server the tests run (tools/controlplane/nats/go.mod), in its alpine image (a shell for the preStop hook).
    const tested = present(readFileSync(join(ROOT, 'tools', 'controlplane', 'nats', 'go.mod'), 'utf8').match(/nats-server\/v2 v(\S+)/)?.[1], 'the pinned nats-server');
    assert.equal(c.image, `docker.io/library/nats:${tested}-alpine`);
    assert.equal(c.args?.[0], '--config=/etc/nats/nats.conf');
    const { conf } = await checkNatsConfig(items);
    // Routes only with the route password (the cluster's authorization), from the Secret, through the --routes URLs.
    assert.match(conf, /cluster \{[^}]*authorization \{\s*user: route\s*password: \$NATS_ROUTE_PASSWORD/s);
    assert.deepEqual(c.env?.find((e) => e.name === 'NATS_ROUTE_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'ekspose-nats-credentials', key: 'route' });
    const routesArg = present(c.args?.find((a) => a.startsWith('--routes=')), '--routes');
    assert.equal(sts.spec?.replicas, 3);
    assert.equal(sts.spec?.podManagementPolicy, 'Parallel', 'a node is ready only with a quorum: start them together');
    const routes = [...routesArg.matchAll(/nats:\/\/route:\$\(NATS_ROUTE_PASSWORD\)@(nats-\d)\.([a-z-]+)([^,]*):6222/g)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(routes, ['nats-0', 'nats-1', 'nats-2'].map((pod) => [pod, sts.spec?.serviceName, '']), 'a route to every pod, through the governing Service, in whatever namespace the pods are');
    // Lame-duck mode on the way out: the preStop hook signals it and waits; the grace period covers it.
    assert.deepEqual(c.lifecycle?.preStop?.exec?.command, ['/bin/sh', '-c', 'nats-server --signal ldm=1 && sleep 60']);
    const seconds = (key: string) => Number(present(conf.match(new RegExp(`^${key}:\\s*(\\d+)s$`, 'm')) ?? undefined, key)[1]);
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= seconds('lame_duck_duration') + seconds('lame_duck_grace_period') + 10, 'the grace period covers lame-duck mode and the store flush');
    assert.equal(
      pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey,
      'kubernetes.io/hostname',
    );
    const pdb = only<V1PodDisruptionBudget>(items, 'PodDisruptionBudget', 'nats');
    assert.equal(pdb.spec?.maxUnavailable, 1, 'a drain keeps the quorum');
    assert.equal(pdb.spec?.unhealthyPodEvictionPolicy, 'AlwaysAllow');
    const storeDir = conf.match(/store_dir:\s*(\S+)/)?.[1];
    assert.ok(storeDir && /jetstream\s*\{/.test(conf), 'JetStream on, with a store dir');
    const mount = c.volumeMounts?.find((m) => m.mountPath === storeDir);
    assert.ok(mount, `the store dir ${storeDir} is a mounted volume`);
    assert.deepEqual(sts.spec?.volumeClaimTemplates?.map((t) => t.metadata?.name), [mount.name]);
    assert.equal(portNumber(c, only<V1Service>(items, 'Service', 'nats').spec?.ports?.[0]?.targetPort as string), 4222);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.ok(c.resources?.limits?.['memory'], 'a memory limit');
  });

  it('NATS credentials: every password auth.conf reads comes from the Secret, and each controller signs in as itself', async () => {
    const { auth } = await checkNatsConfig(items);
    const sts = only<V1StatefulSet>(items, 'StatefulSet', 'nats');
    const stsEnv = Object.fromEntries((sts.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e]));
    const users = [...auth.matchAll(/user: (\S+)\s+password: \$(\w+)/g)].map((m) => [m[1]!, m[2]!] as const);
    assert.deepEqual(users.map(([u]) => u).sort(), [...NATS_USERS].sort());
    for (const [user, variable] of users) {
      assert.equal(variable, natsPasswordVariable(user as NatsUser));
      assert.deepEqual(stsEnv[variable]?.valueFrom?.secretKeyRef, { name: 'ekspose-nats-credentials', key: user });
    }
    for (const app of APPS) {
      const c = present(only<V1Deployment>(items, 'Deployment', app).spec?.template.spec?.containers[0], `${app} container`);
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
      assert.equal(env['NATS_USER']?.value, app);
      assert.deepEqual(env['NATS_PASSWORD']?.valueFrom?.secretKeyRef, { name: 'ekspose-nats-credentials', key: app });
    }
    assert.equal(settingsConfigMap(items).data?.['NATS_STREAM_REPLICAS'], '3', 'the stream has a copy on each node');
  });

  it('manifests/nats-single: the same NATS as one server, without a cluster block, and a valid config', async () => {
    await kubectl(['apply', '-f', join(MANIFESTS, 'namespace.yaml')]);
    const { items: single } = await dryRun(join(MANIFESTS, 'nats-single'));
    assert.equal(only<V1StatefulSet>(single, 'StatefulSet', 'nats').spec?.replicas, 1);
    assert.deepEqual(only<V1StatefulSet>(single, 'StatefulSet', 'nats').spec?.template.spec?.containers[0]?.args, ['--config=/etc/nats/nats.conf'], 'no routes');
    const { conf } = await checkNatsConfig(single);
    assert.doesNotMatch(conf, /cluster\s*\{/);
  });
});

describe('manifests/samples', () => {
  it('apply (server-side dry run), and ekspose reads them as their comments say', async () => {
    await kubectl(['apply', '-f', join(MANIFESTS, 'samples', 'namespace.yaml')]);
    const { items } = await dryRun(join(MANIFESTS, 'samples'));
    assert.deepEqual(items.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(), [
      'Deployment ekspose-samples/invalid-port',
      'Deployment ekspose-samples/plain',
      'Deployment ekspose-samples/with-httproute',
      'Deployment ekspose-samples/with-ingress',
      'Namespace /ekspose-samples',
    ]);
    const { items: shipped } = await dryRun(MANIFESTS);
    const settings = shippedSettings(shipped, 'x');
    const parse = (name: string) => parseExposeSpec(only<DeploymentLike>(items, 'Deployment', name), settings);

    const plain = parse('plain');
    assert.equal(plain.kind, 'expose');
    assert.deepEqual(plain.kind === 'expose' && [plain.spec.port, plain.spec.ingress], [80, null]);

    const withIngress = parse('with-ingress');
    assert.equal(withIngress.kind, 'expose');
    assert.deepEqual(withIngress.kind === 'expose' && [withIngress.spec.port, withIngress.spec.ingress?.host], [
      8080,
      `with-ingress.${SAMPLES_NAMESPACE}.${settings.domain}`,
    ]);

    const routed = parse('with-httproute');
    assert.equal(routed.kind, 'expose');
    assert.deepEqual(routed.kind === 'expose' && [routed.spec.port, routed.spec.ingress?.routeKind, routed.spec.ingress?.gateway, routed.spec.ingress?.annotations], [
      8080,
      'httproute',
      { namespace: SAMPLES_NAMESPACE, name: 'public', sectionName: 'http' },
      { 'example.com/team': 'samples' },
    ]);

    const invalid = parse('invalid-port');
    assert.equal(invalid.kind, 'invalid');
    assert.deepEqual(invalid.kind === 'invalid' && invalid.problems.map((p) => [p.key, p.value]), [['port', 'abc']]);
  });
});

describe('the controllers with only these grants', () => {
  const procs: { app: App; identity: string; handle: ProcessHandle; metricsPort: number }[] = [];
  const logs = (): string => procs.map((p) => `--- ${p.identity} ---\n${p.handle.logTail(40)}`).join('\n');
  const get = async <T>(args: string[]): Promise<T | undefined> => {
    const result = await plane.kubectl(['get', ...args, '-o', 'json']);
    return result.code === 0 ? (JSON.parse(result.stdout) as T) : undefined;
  };

  before(async () => {
    for (const app of APPS) {
      const bundle = join(ROOT, 'dist', 'apps', app, 'main.js');
      if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build the apps first (npx nx run-many -t build)`);
    }
    await plane.startNats();
    // The Gateway API, so the HTTPRoute sample is made (and put back) under the shipped RBAC too.
    await plane.installGatewayApi();
    // For real this time: ServiceAccounts, RBAC, the settings ConfigMap (no pods: there is no kubelet).
    await kubectl(['apply', '-k', MANIFESTS]);
    const { items } = await dryRun(MANIFESTS);
    for (const app of APPS) {
      const identity = `${app}-0`;
      const kubeconfig = join(plane.dir, `${app}.kubeconfig`);
      await writeTokenKubeconfig(plane, app, kubeconfig);
      const configMap = settingsConfigMap(items);
      // What the Deployment sets literally (EKSPOSE_SHARDS, NODE_OPTIONS, NATS_USER), as the pod would run.
      const container = present(only<V1Deployment>(items, 'Deployment', app).spec?.template.spec?.containers[0], `${app} container`);
      const literal = Object.fromEntries((container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
      const [healthPort = 0, metricsPort = 0] = await freePorts(2);
      const handle = startProcess({
        name: identity,
        cmd: process.execPath,
        args: [join(ROOT, 'dist', 'apps', app, 'main.js')],
        logFile: join(plane.dir, `${identity}.log`),
        env: {
          PATH: process.env['PATH'] ?? '',
          ...configMap.data,
          ...literal,
          KUBECONFIG: kubeconfig,
          ...plane.natsEnv(app),
          POD_NAMESPACE: NAMESPACE,
          POD_NAME: identity,
          EKSPOSE_BIND_ADDRESS: '127.0.0.1',
          EKSPOSE_HEALTH_PORT: String(healthPort),
          EKSPOSE_METRICS_PORT: String(metricsPort),
          LOG_LEVEL: 'debug',
        },
      });
      procs.push({ app, identity, handle, metricsPort });
    }
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.handle.stop(12_000)));
  });

  it('/metrics is HTTPS for tokens the API server vouches for: 401 without one, 403 unless bound to ekspose-metrics-reader, 200 then', async () => {
    await kubectl(['-n', NAMESPACE, 'create', 'serviceaccount', 'scraper']);
    await kubectl(['-n', NAMESPACE, 'create', 'serviceaccount', 'stranger']);
    await kubectl(['create', 'clusterrolebinding', 'scraper-ekspose-metrics', '--clusterrole=ekspose-metrics-reader', `--serviceaccount=${NAMESPACE}:scraper`]);
    const token = async (sa: string) => (await kubectl(['-n', NAMESPACE, 'create', 'token', sa, '--duration=10m'])).stdout.trim();
    const [scraper, stranger] = [await token('scraper'), await token('stranger')];
    try {
      for (const p of procs) {
        const scrape = (authorization?: string) => httpsGet(p.metricsPort, '/metrics', authorization);
        const denied = await eventually(() => scrape().catch(() => undefined), { what: `${p.identity} serving /metrics` });
        assert.equal(denied.status, 401, `${p.identity} without a token`);
        assert.equal((await scrape('Bearer not-a-token')).status, 401, `${p.identity} with a token the API server rejects`);
        const forbidden = await scrape(`Bearer ${stranger}`);
        assert.equal(forbidden.status, 403, `${p.identity} for a ServiceAccount without the ClusterRole`);
        assert.match(forbidden.body, /ekspose-metrics-reader/);
        const allowed = await scrape(`Bearer ${scraper}`);
        assert.equal(allowed.status, 200, `${p.identity} for the scraper: ${allowed.body.slice(0, 200)}`);
        assert.match(allowed.body, /^# HELP ekspose_/m);
        assert.equal(allowed.certificate, true, 'a TLS certificate was presented');
        // Plain HTTP on the same port gets no metrics.
        const plain = await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`).then((r) => r.status, () => 0);
        assert.notEqual(plain, 200, `${p.identity} answered plain HTTP`);
      }
    } catch (error) {
      (error as Error).message += `\n${logs()}`;
      throw error;
    }
  });

  it('each takes its Lease, exposes the samples, recreates deleted objects, records Events, and never hears 403', async () => {
    try {
      for (const p of procs) {
        await eventually(async () => (await get<V1Lease>(['-n', NAMESPACE, 'lease', leaseName(p.app)]))?.spec?.holderIdentity === p.identity, {
          what: `${p.identity} holding ${leaseName(p.app)}`,
        });
      }
      await kubectl(['apply', '-k', join(MANIFESTS, 'samples')]);
      await kubectl(['apply', '-k', join(MANIFESTS, 'samples', 'gateway')]);
      const svc = (name: string) => get<V1Service>(['-n', SAMPLES_NAMESPACE, 'service', name]);
      const ing = (name: string) => get<KubeObject>(['-n', SAMPLES_NAMESPACE, 'ingress', name]);
      const route = (name: string) => get<KubeObject & { metadata: { uid?: string } }>(['-n', SAMPLES_NAMESPACE, 'httproute', name]);
      const events = async (reason: string) =>
        ((await get<{ items: CoreV1Event[] }>(['-n', SAMPLES_NAMESPACE, 'events']))?.items ?? []).filter((e) => e.reason === reason);

      // deployment-controller: create Service and Ingress, Warning Event for the bad port.
      await eventually(async () => (await svc('plain'))?.spec?.ports?.[0]?.port === 80, { what: 'Service plain' });
      await eventually(async () => (await svc('with-ingress'))?.spec?.ports?.[0]?.port === 8080, { what: 'Service with-ingress' });
      await eventually(() => ing('with-ingress'), { what: 'Ingress with-ingress' });
      const madeRoute = await eventually(() => route('with-httproute'), { what: 'HTTPRoute with-httproute' });
      await eventually(async () => (await events('InvalidSpec')).length > 0, { what: 'Warning Event on invalid-port' });
      // service-controller and ingress-controller: create after a deletion by hand, and say so in an Event.
      const oldService = (await svc('plain'))?.metadata?.uid;
      assert.ok(oldService);
      await kubectl(['-n', SAMPLES_NAMESPACE, 'delete', 'service', 'plain']);
      await kubectl(['-n', SAMPLES_NAMESPACE, 'delete', 'ingress', 'with-ingress']);
      await eventually(async () => {
        const uid = (await svc('plain'))?.metadata?.uid;
        return uid !== undefined && uid !== oldService;
      }, { what: 'Service plain recreated' });
      await eventually(() => ing('with-ingress'), { what: 'Ingress with-ingress recreated' });
      await kubectl(['-n', SAMPLES_NAMESPACE, 'delete', 'httproute', 'with-httproute']);
      await eventually(async () => {
        const uid = (await route('with-httproute'))?.metadata.uid;
        return uid !== undefined && uid !== madeRoute.metadata.uid;
      }, { what: 'HTTPRoute with-httproute recreated' });
      await eventually(async () => (await events('ServiceRecreated')).length > 0 && (await events('IngressRecreated')).length > 0, {
        what: 'ServiceRecreated and IngressRecreated Events',
      });
      // deployment-controller: patch the repeated Warning, delete what a deleted Deployment owned.
      await kubectl(['-n', SAMPLES_NAMESPACE, 'annotate', 'deployment', 'invalid-port', 'poke=1']);
      await eventually(async () => (await events('InvalidSpec')).some((e) => occurrences(e) > 1), { what: 'Warning Event series patched' });
      await kubectl(['-n', SAMPLES_NAMESPACE, 'delete', 'deployment', 'plain']);
      await eventually(async () => (await svc('plain')) === undefined, { what: 'Service plain deleted with its Deployment' });

      // On SIGTERM each releases its Lease (update) and exits 0.
      const exits = await Promise.all(procs.map((p) => p.handle.stop(12_000)));
      assert.deepEqual(exits.map((e) => e.code), [0, 0, 0]);
      for (const p of procs) {
        const lease = await get<V1Lease>(['-n', NAMESPACE, 'lease', leaseName(p.app)]);
        assert.ok(!lease?.spec?.holderIdentity, `${leaseName(p.app)} released, holder: ${lease?.spec?.holderIdentity}`);
      }
      // The API's refusal reads "... is forbidden: User ... cannot ...", with HTTP code 403.
      for (const p of procs) assert.doesNotMatch(p.handle.readLog(), /forbidden|HTTP-Code: 403/i, `${p.identity} was refused something`);
    } catch (error) {
      (error as Error).message += `\n${logs()}`;
      throw error;
    }
  });
});
