// What the tests of the shipped manifests/ share: where they are, the namespace
// they make, docs/design.md §6 as a table to hold the roles to, and signing in as a
// controller's ServiceAccount with nothing but a TokenRequest token.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
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
 * else (no client certificate), so whatever uses it is that ServiceAccount. Returns the token.
 */
export async function writeTokenKubeconfig(plane: ControlPlane, app: AppName, path: string): Promise<string> {
  const token = (await kubectlOk(plane, ['-n', MANIFESTS_NAMESPACE, 'create', 'token', app, '--duration=1h'])).stdout.trim();
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
  await kubectlOk(plane, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
}
