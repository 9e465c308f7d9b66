// examples/gitops: the Argo CD Application and the Flux GitRepository + HelmRelease a
// platform team would commit, validated by a real API server against those projects'
// own CRDs (tools/controlplane/gitops-crds.sh: Argo CD's from its Go module, Flux's
// generated from its API modules), and their values rendered by the chart the way each
// tool renders it: offline for Argo CD (helm template), against the cluster for Flux.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { type ControlPlane, ensureOpsBinaries, helmTemplateArgs, runCaptured, startControlPlane, workspaceRoot } from '@ekspose/testing';
import { assertFollowsNamespace, installMonitoringCrds, kubectlOk } from './support/manifests';

const EXAMPLES = join(workspaceRoot(), 'examples', 'gitops');
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> };

let plane: ControlPlane;
let helmBin: string;

/** The CRDs folder gitops-crds.sh makes (cached after the first run), one build at a time across test processes. */
function gitopsCrds(): string {
  const script = join(workspaceRoot(), 'tools', 'controlplane', 'gitops-crds.sh');
  const run = spawnSync('flock', [join(process.env['TMPDIR'] ?? '/tmp', 'ekspose-gitops-crds.lock'), 'bash', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  assert.equal(run.status, 0, `${script} failed`);
  const dir = run.stdout.trimEnd().split('\n').pop() ?? '';
  assert.ok(existsSync(join(dir, '.complete')), `${script} printed ${dir}`);
  return dir;
}

const objects = (file: string) => JSON.parse(JSON.stringify(loadAllYaml(readFileSync(join(EXAMPLES, file), 'utf8')).filter(Boolean))) as Obj[];

async function helm(args: string[]) {
  const env = { ...process.env, KUBECONFIG: plane.kubeconfigPath, HELM_CACHE_HOME: join(plane.dir, 'helm-cache'), HELM_CONFIG_HOME: join(plane.dir, 'helm-config'), HELM_DATA_HOME: join(plane.dir, 'helm-data') };
  const run = await runCaptured(helmBin, helmTemplateArgs(args), { timeoutMs: 120_000, env });
  assert.equal(run.code, 0, `helm ${args.join(' ')} failed (${run.code}):\n${run.stderr}`);
  return run.stdout;
}

function valuesFile(values: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ekspose-gitops-values-')), 'values.json');
  writeFileSync(file, JSON.stringify(values));
  return file;
}

describe('examples/gitops', { timeout: 600_000 }, () => {
  before(async () => {
    const ops = await ensureOpsBinaries();
    helmBin = join(ops, 'helm');
    const crds = gitopsCrds();
    plane = await startControlPlane({ controllerManager: false, nats: false, log: (line) => process.stderr.write(`[plane] ${line}\n`) });
    for (const file of readdirSync(crds).filter((f) => f.endsWith('.yaml'))) await kubectlOk(plane, ['apply', '--server-side', '-f', join(crds, file)]);
    await plane.waitForCrds(['applications.argoproj.io', 'helmreleases.helm.toolkit.fluxcd.io', 'gitrepositories.source.toolkit.fluxcd.io']);
    for (const ns of ['argocd', 'flux-system']) await kubectlOk(plane, ['create', 'namespace', ns]);
    // The examples turn the monitoring on, which needs the Prometheus Operator's CRDs.
    await installMonitoringCrds(plane, ops);
  });

  after(async () => {
    await plane?.stop();
  });

  it('the API server accepts each example against its CRD (server-side dry run), and refuses a broken one', async () => {
    for (const file of ['argocd-application.yaml', 'flux-helmrelease.yaml']) {
      const out = (await kubectlOk(plane, ['apply', '--dry-run=server', '-f', join(EXAMPLES, file)])).stdout;
      for (const o of objects(file)) assert.match(out, new RegExp(`${o.kind.toLowerCase()}\\.\\S+/${o.metadata.name} created \\(server dry run\\)`), `${file}: ${o.kind}\n${out}`);
    }
    // The validation has teeth: a HelmRelease without its chart is refused by the CRD's schema.
    const release = objects('flux-helmrelease.yaml').find((o) => o.kind === 'HelmRelease')!;
    const broken = { ...release, spec: { ...release.spec, chart: undefined, interval: 'often' } };
    const refused = await plane.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(broken) });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /spec\.interval/);
  });

  it('both point at this repository\'s chart', () => {
    const app = objects('argocd-application.yaml')[0]!;
    const source = app.spec['source'] as { path: string; helm: { releaseName: string } };
    assert.ok(existsSync(join(workspaceRoot(), source.path, 'Chart.yaml')), source.path);
    const release = objects('flux-helmrelease.yaml').find((o) => o.kind === 'HelmRelease')!;
    const chart = (release.spec['chart'] as { spec: { chart: string; sourceRef: { kind: string; name: string } } }).spec;
    assert.ok(existsSync(join(workspaceRoot(), chart.chart, 'Chart.yaml')), chart.chart);
    const repo = objects('flux-helmrelease.yaml').find((o) => o.kind === chart.sourceRef.kind && o.metadata.name === chart.sourceRef.name);
    assert.ok(repo, 'the HelmRelease\'s source is in the example');
  });

  it('Argo CD: its values render offline (helm template, as Argo CD renders), the same bytes twice, and hold together in its namespace', async () => {
    const app = objects('argocd-application.yaml')[0]!;
    const source = app.spec['source'] as { path: string; helm: { releaseName: string; valuesObject: unknown } };
    const ns = (app.spec['destination'] as { namespace: string }).namespace;
    const args = ['template', source.helm.releaseName, join(workspaceRoot(), source.path), '-n', ns, '-f', valuesFile(source.helm.valuesObject)];
    const first = await helm(args);
    assert.equal(await helm(args), first, 'byte-identical renders: Argo CD sees no drift');
    assertFollowsNamespace(first, ns, ['ekspose-nats-credentials']);
    assert.match(first, /EKSPOSE_DOMAIN: "apps\.example\.com"/);
    assert.match(first, /kind: ServiceMonitor/);
  });

  it('Flux: its values install against the cluster (helm install --dry-run=server, where lookup sees it), making the NATS passwords', async () => {
    const release = objects('flux-helmrelease.yaml').find((o) => o.kind === 'HelmRelease')!;
    const ns = release.spec['targetNamespace'] as string;
    await kubectlOk(plane, ['create', 'namespace', ns]);
    const chart = (release.spec['chart'] as { spec: { chart: string } }).spec.chart;
    const out = await helm(['install', release.spec['releaseName'] as string, join(workspaceRoot(), chart), '-n', ns, '--dry-run=server', '-f', valuesFile(release.spec['values'])]);
    const manifest = out.slice(out.indexOf('MANIFEST:'), out.indexOf('NOTES:') > 0 ? out.indexOf('NOTES:') : undefined).replace(/^MANIFEST:\n/, '');
    const objs = assertFollowsNamespace(manifest, ns);
    assert.ok(objs.has('Secret/ekspose-nats-credentials'), 'the chart made the passwords');
    assert.match(manifest, /checksum\/nats-credentials: [0-9a-f]{64}/);
  });
});
