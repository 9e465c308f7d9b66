// What the tests of the shipped manifests/ share: where they are, the namespace
// they make, docs/design.md §6 as a table to hold the roles to, and signing in as a
// controller's ServiceAccount with nothing but a TokenRequest token.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { type ControlPlane, type KubectlResult, workspaceRoot } from '@ekspose/testing';
import type { AppName } from './test-env';

export const MANIFESTS = join(workspaceRoot(), 'manifests');
/** The namespace of manifests/namespace.yaml, where the ServiceAccounts, the Lease Roles and the Leases live. */
export const MANIFESTS_NAMESPACE = 'ekspose';

/** Beyond the docs/design.md §6 table: what serving /metrics securely needs (asking the API server about a scraper's token). */
const METRICS_AUTH = {
  'authentication.k8s.io/tokenreviews': ['create'],
  'authorization.k8s.io/subjectaccessreviews': ['create'],
};

/** docs/design.md §6, per controller, cluster-wide: `<apiGroup>/<resource>` (core group = "") → verbs. */
export const RBAC_TABLE: Record<AppName, Record<string, string[]>> = {
  'deployment-controller': {
    'apps/deployments': ['get', 'list', 'watch'],
    '/services': ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    'networking.k8s.io/ingresses': ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    'gateway.networking.k8s.io/httproutes': ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    // The listeners of the Gateway an HTTPRoute attaches to, for the URL's scheme and port.
    'gateway.networking.k8s.io/gateways': ['get'],
    'events.k8s.io/events': ['create', 'patch'],
    ...METRICS_AUTH,
  },
  'service-controller': {
    'apps/deployments': ['get', 'list', 'watch'],
    '/services': ['get', 'list', 'watch', 'create'],
    'events.k8s.io/events': ['create', 'patch'],
    ...METRICS_AUTH,
  },
  'ingress-controller': {
    'apps/deployments': ['get', 'list', 'watch'],
    '/services': ['get', 'list', 'watch'],
    'networking.k8s.io/ingresses': ['get', 'list', 'watch', 'create'],
    'gateway.networking.k8s.io/httproutes': ['get', 'list', 'watch', 'create'],
    // The same read, for the URL of an HTTPRoute it makes because it was missing.
    'gateway.networking.k8s.io/gateways': ['get'],
    'events.k8s.io/events': ['create', 'patch'],
    ...METRICS_AUTH,
  },
};

/** kubectl against the plane as its admin; anything but exit code 0 fails the test, with kubectl's stderr. */
export async function kubectlOk(plane: ControlPlane, args: string[], input?: string): Promise<KubectlResult> {
  const result = await plane.kubectl(args, { input });
  assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result;
}

/**
 * Writes to `path` a kubeconfig that holds a TokenRequest token for the app's ServiceAccount and nothing
 * else (no client certificate), so whatever uses it is that ServiceAccount (of `namespace`, default the manifests'). Returns the token.
 */
export async function writeTokenKubeconfig(plane: ControlPlane, app: AppName, path: string, namespace = MANIFESTS_NAMESPACE): Promise<string> {
  const token = (await kubectlOk(plane, ['-n', namespace, 'create', 'token', app, '--duration=1h'])).stdout.trim();
  const certificates = plane.certificates;
  assert.ok(certificates, 'the plane has its certificates');
  const ca = readFileSync(certificates.caCert).toString('base64');
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{ name: plane, cluster: { server: "${plane.server}", certificate-authority-data: "${ca}" } }]
users: [{ name: ${app}, user: { token: "${token}" } }]
contexts: [{ name: ${app}, context: { cluster: plane, user: ${app} } }]
current-context: ${app}
`,
    { mode: 0o600 },
  );
  return token;
}

/** `kubectl kustomize` of manifests/ with the monitoring component, as a user's overlay would name them. */
export async function renderWithMonitoring(plane: ControlPlane): Promise<string> {
  const overlay = mkdtempSync(join(tmpdir(), 'ekspose-overlay-'));
  writeFileSync(join(overlay, 'kustomization.yaml'), `resources: [${relative(overlay, MANIFESTS)}]\ncomponents: [${relative(overlay, join(MANIFESTS, 'monitoring'))}]\n`);
  return (await kubectlOk(plane, ['kustomize', overlay])).stdout;
}

/** Installs the Prometheus Operator CRDs `build.sh ops` copied into `<opsBin>/crds`, and waits until they are served. */
export async function installMonitoringCrds(plane: ControlPlane, opsBin: string): Promise<void> {
  const dir = join(opsBin, 'crds');
  for (const crd of readdirSync(dir)) await kubectlOk(plane, ['apply', '--server-side', '-f', join(dir, crd)]);
  await plane.waitForCrds(['servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']);
}

type Rendered = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

/** Every string in an object, with where it is. */
function strings(v: unknown, path: string, out: Array<[string, string]>): Array<[string, string]> {
  if (typeof v === 'string') out.push([path, v]);
  else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, `${path}.${k}`, out);
  return out;
}

/**
 * Checks that a rendering of ekspose (the manifests through an overlay, or the chart)
 * holds together in `namespace`: every namespaced object is in it; every reference
 * names an object of the rendering (ServiceAccounts of bindings and pods, ConfigMaps,
 * Secrets but `externalSecrets`, the StatefulSet's Service, the selected Services of the
 * ServiceMonitors); the Lease Roles are there (the controllers take POD_NAMESPACE from the
 * downward API); every host name is a Service of the rendering, named relative to the
 * pod's namespace or in `namespace` itself; and nothing names another namespace.
 * Returns the objects, by kind/name.
 */
export function assertFollowsNamespace(yaml: string, namespace: string, externalSecrets: string[] = []): Map<string, Rendered> {
  const objects = (JSON.parse(JSON.stringify(loadAllYaml(yaml).filter(Boolean))) as Rendered[]);
  const byKey = new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
  const has = (kind: string, name: string) => byKey.has(`${kind}/${name}`) || (kind === 'ConfigMap' && objects.some((o) => o.kind === kind && o.metadata.name.replace(/-[a-z0-9]{10}$/, '') === name.replace(/-[a-z0-9]{10}$/, '')));
  const problems: string[] = [];
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata.name}`;
    if (o.kind === 'Namespace') {
      if (o.metadata.name !== namespace) problems.push(`${where}: not ${namespace}`);
    } else if (!CLUSTER_SCOPED.has(o.kind) && o.metadata.namespace !== namespace) {
      problems.push(`${where}: in namespace ${o.metadata.namespace ?? '(none)'}`);
    }
    for (const s of (o as { subjects?: Array<{ kind: string; name: string; namespace?: string }> }).subjects ?? []) {
      if (s.kind !== 'ServiceAccount') continue;
      if (s.namespace !== namespace) problems.push(`${where}: subject ${s.name} in ${s.namespace}`);
      if (!has('ServiceAccount', s.name)) problems.push(`${where}: subject ${s.name} is no ServiceAccount of the rendering`);
    }
    const pod = (o as { spec?: { template?: { spec?: Record<string, unknown> } } }).spec?.template?.spec;
    if (pod) {
      const sa = pod['serviceAccountName'] as string | undefined;
      if (sa && !has('ServiceAccount', sa)) problems.push(`${where}: serviceAccountName ${sa} is not rendered`);
      for (const [path, value] of strings(pod, 'spec', [])) {
        if (/configMapRef\.name$|configMap\.name$/.test(path) && !has('ConfigMap', value)) problems.push(`${where}: ${path} ${value} is not rendered`);
        if (/secretKeyRef\.name$|secret\.secretName$/.test(path) && !has('Secret', value) && !externalSecrets.includes(value)) problems.push(`${where}: ${path} ${value} is not rendered`);
      }
    }
    if (o.kind === 'StatefulSet') {
      const svc = (o as unknown as { spec: { serviceName: string } }).spec.serviceName;
      if (!has('Service', svc)) problems.push(`${where}: serviceName ${svc} is not rendered`);
    }
    if (o.kind === 'ServiceMonitor') {
      const spec = (o as unknown as { spec: { namespaceSelector?: { matchNames?: string[] }; selector: { matchLabels: Record<string, string> } } }).spec;
      if (spec.namespaceSelector && JSON.stringify(spec.namespaceSelector.matchNames) !== JSON.stringify([namespace])) problems.push(`${where}: namespaceSelector ${JSON.stringify(spec.namespaceSelector)}`);
      const selected = objects.filter((s) => s.kind === 'Service' && Object.entries(spec.selector.matchLabels).every(([k, v]) => (s.metadata as { labels?: Record<string, string> }).labels?.[k] === v));
      if (selected.length !== 1) problems.push(`${where}: selects ${selected.length} Services`);
    }
    // Host names in URLs (ConfigMap data, env values, the routes' arguments past any user:password@): a Service of the rendering, relative or in this namespace.
    for (const [path, value] of strings(o, where, [])) {
      for (const m of value.matchAll(/\b(?:nats|tls|https?):\/\/(?:[^@\s/,]+@)?([a-z0-9.-]+)(?::\d+)?/g)) {
        const labels = m[1]!.split('.');
        const svcIndex = labels[0]!.startsWith('nats-') && labels[1] === 'nats-headless' ? 1 : 0;
        const svc = labels[svcIndex]!;
        const rest = labels.slice(svcIndex + 1);
        if (!has('Service', svc)) problems.push(`${path}: ${m[0]} names no Service of the rendering`);
        if (rest.length > 0 && rest[0] !== namespace) problems.push(`${path}: ${m[0]} names namespace ${rest[0]}`);
      }
      if (value === 'ekspose' && namespace !== 'ekspose' && /\.namespace$/.test(path)) problems.push(`${path}: names namespace ekspose`);
    }
  }
  for (const app of ['deployment-controller', 'service-controller', 'ingress-controller']) {
    const role = byKey.get(`Role/ekspose-${app}-leader-election`);
    if (role && role.metadata.namespace !== namespace) problems.push(`the Lease Role of ${app} is in ${role.metadata.namespace}`);
    const dep = byKey.get(`Deployment/${app}`) as { spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> }> } } } } | undefined;
    if (dep && dep.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath !== 'metadata.namespace') problems.push(`${app}: POD_NAMESPACE (the Lease's namespace) is not the pod's`);
  }
  assert.deepEqual(problems, [], `the rendering holds together in namespace ${namespace}`);
  return byKey;
}
