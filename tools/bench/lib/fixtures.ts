// Objects as a controller's informer cache holds them in a cluster that is
// already correct: Deployments applied with kubectl (last-applied annotation,
// managedFields, status), and the Services and Ingresses ekspose created,
// as the API server returns them (defaults filled in, managedFields, status,
// a label or annotation another tool added, keys in the server's order).
// Every object goes through JSON once, so nothing is shared between fixtures.
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { type ExposeSpec, parseExposeSpec } from '@ekspose/labels';
import { type Settings, loadSettings } from '@ekspose/expose';

export interface ReconcileFixture {
  deployment: V1Deployment;
  liveService: V1Service;
  /** null when the Deployment does not ask for an Ingress. */
  liveIngress: V1Ingress | null;
}

export function benchSettings(): Settings {
  const loaded = loadSettings({ EKSPOSE_DOMAIN: 'apps.example.com', POD_NAMESPACE: 'ekspose' }, { hostname: 'bench', pid: 1 });
  if (!loaded.ok) throw new Error(`bench settings: ${loaded.problems.join('; ')}`);
  return loaded.settings;
}

const TIME = '2025-03-14T09:26:53Z';

function uid(kind: number, i: number): string {
  const hex = (kind * 1_000_000 + i).toString(16).padStart(12, '0');
  return `6f1c2a9e-${hex.slice(0, 4)}-4b7d-9c3e-${hex}`;
}

/**
 * A fresh copy typed as the client type. Timestamps stay strings, as watch
 * events deliver them (the client's types say Date).
 */
function clone<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Deployment number i: half want an Ingress; some set a port, a target port, a path or a TLS secret. */
export function deploymentFixture(i: number): V1Deployment {
  const name = `app-${i}`;
  const namespace = `team-${i % 40}`;
  const labels: Record<string, string> = {
    app: name,
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': 'shop',
    'app.kubernetes.io/version': `1.${i % 17}.0`,
    tier: i % 3 === 0 ? 'frontend' : 'backend',
  };
  if (i % 4 !== 0) labels.port = String(8000 + (i % 1000));
  if (i % 2 === 0) labels.ingReq = 'needed';
  const annotations: Record<string, string> = { 'deployment.kubernetes.io/revision': String(1 + (i % 5)) };
  if (i % 5 === 0) annotations['ekspose.io/target-port'] = 'http';
  if (i % 6 === 0) annotations['ekspose.io/path'] = '/api';
  if (i % 7 === 0) annotations['ekspose.io/tls-secret'] = 'wildcard-tls';
  const template = {
    metadata: { labels: { app: name, tier: labels.tier! }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: `registry.example.com/shop/${name}:1.${i % 17}.0`,
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_HOST', value: `db.${namespace}.svc` },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 'http', scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: 'default-scheduler',
    },
  };
  const applied = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, annotations: Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith('ekspose.io/'))) },
    spec: { replicas: 3, selector: { matchLabels: { app: name } }, template },
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      uid: uid(1, i),
      resourceVersion: String(100_000 + i * 3),
      generation: 1 + (i % 5),
      creationTimestamp: TIME,
      labels,
      annotations: { ...annotations, 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n` },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: TIME,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
              'f:labels': Object.fromEntries([['.', {}], ...Object.keys(labels).map((k) => [`f:${k}`, {}])]),
            },
            'f:spec': {
              'f:progressDeadlineSeconds': {},
              'f:replicas': {},
              'f:revisionHistoryLimit': {},
              'f:selector': {},
              'f:strategy': { 'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} }, 'f:type': {} },
              'f:template': {
                'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:tier': {} } },
                'f:spec': {
                  'f:containers': {
                    'k:{"name":"app"}': {
                      '.': {},
                      'f:env': { '.': {}, 'k:{"name":"DB_HOST"}': { '.': {}, 'f:name': {}, 'f:value': {} }, 'k:{"name":"LOG_LEVEL"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                      'f:image': {},
                      'f:imagePullPolicy': {},
                      'f:name': {},
                      'f:ports': { '.': {}, 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {}, 'f:protocol': {} } },
                      'f:resources': { '.': {}, 'f:limits': { '.': {}, 'f:memory': {} }, 'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} } },
                    },
                  },
                  'f:dnsPolicy': {},
                  'f:restartPolicy': {},
                  'f:schedulerName': {},
                  'f:securityContext': {},
                  'f:terminationGracePeriodSeconds': {},
                },
              },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: TIME,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } },
            'f:status': {
              'f:availableReplicas': {},
              'f:conditions': { '.': {}, 'k:{"type":"Available"}': { '.': {}, 'f:lastTransitionTime': {}, 'f:lastUpdateTime': {}, 'f:message': {}, 'f:reason': {}, 'f:status': {}, 'f:type': {} } },
              'f:observedGeneration': {},
              'f:readyReplicas': {},
              'f:replicas': {},
              'f:updatedReplicas': {},
            },
          },
        },
      ],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: name } },
      template: { ...template, metadata: { ...template.metadata, creationTimestamp: null } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 1 + (i % 5),
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions: [
        { type: 'Available', status: 'True', lastUpdateTime: TIME, lastTransitionTime: TIME, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        { type: 'Progressing', status: 'True', lastUpdateTime: TIME, lastTransitionTime: TIME, reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-7d9f8c6b5" has successfully progressed.` },
      ],
    },
  };
  return clone<V1Deployment>(deployment);
}

function ownedMetadata(spec: ExposeSpec, i: number, kindIndex: number) {
  const labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'ekspose', 'ekspose.io/deployment': spec.name };
  // Other tools' additions, which ekspose must leave alone (and not count as drift).
  if (i % 3 === 0) labels['cost-center'] = 'cc-4711';
  const annotations: Record<string, string> = {};
  if (i % 4 === 0) annotations['prometheus.io/probe'] = 'true';
  return {
    name: spec.name,
    namespace: spec.namespace,
    uid: uid(kindIndex, i),
    resourceVersion: String(200_000 + i * 3 + kindIndex),
    creationTimestamp: TIME,
    labels,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name, uid: spec.uid, controller: true }],
  };
}

const OWNED_META_FIELDS = {
  'f:metadata': {
    'f:labels': { '.': {}, 'f:app.kubernetes.io/managed-by': {}, 'f:ekspose.io/deployment': {} },
    'f:ownerReferences': { '.': {}, 'k:{"uid":"…"}': {} },
  },
};

/** The Service ekspose created for `spec`, as the API server returns it. */
export function liveServiceFor(spec: ExposeSpec, i: number): V1Service {
  const ip = `10.96.${(i >> 8) & 255}.${i & 255}`;
  return clone<V1Service>({
    kind: 'Service',
    apiVersion: 'v1',
    metadata: {
      ...ownedMetadata(spec, i, 2),
      managedFields: [
        {
          manager: 'ekspose',
          operation: 'Update',
          apiVersion: 'v1',
          time: TIME,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            ...OWNED_META_FIELDS,
            'f:spec': {
              'f:internalTrafficPolicy': {},
              'f:ports': { '.': {}, [`k:{"port":${spec.port},"protocol":"TCP"}`]: { '.': {}, 'f:name': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} } },
              'f:selector': {},
              'f:sessionAffinity': {},
              'f:type': {},
            },
          },
        },
      ],
    },
    spec: {
      ports: [{ name: 'http', protocol: 'TCP', port: spec.port, targetPort: spec.targetPort }],
      selector: spec.selector,
      clusterIP: ip,
      clusterIPs: [ip],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  });
}

/** The Ingress ekspose created for `spec`, as the API server returns it (class defaulted by admission, status from the controller). */
export function liveIngressFor(spec: ExposeSpec, i: number): V1Ingress | null {
  const ing = spec.ingress;
  if (!ing) return null;
  return clone<V1Ingress>({
    kind: 'Ingress',
    apiVersion: 'networking.k8s.io/v1',
    metadata: {
      ...ownedMetadata(spec, i, 3),
      generation: 1,
      managedFields: [
        {
          manager: 'ekspose',
          operation: 'Update',
          apiVersion: 'networking.k8s.io/v1',
          time: TIME,
          fieldsType: 'FieldsV1',
          fieldsV1: { ...OWNED_META_FIELDS, 'f:spec': { 'f:rules': {}, ...(ing.tlsSecret ? { 'f:tls': {} } : {}) } },
        },
        {
          manager: 'nginx-ingress-controller',
          operation: 'Update',
          apiVersion: 'networking.k8s.io/v1',
          time: TIME,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } },
        },
      ],
    },
    spec: {
      ingressClassName: ing.ingressClassName ?? 'nginx',
      ...(ing.tlsSecret ? { tls: [{ hosts: [ing.host], secretName: ing.tlsSecret }] } : {}),
      rules: [
        {
          host: ing.host,
          http: { paths: [{ path: ing.path, pathType: 'Prefix', backend: { service: { name: spec.name, port: { number: spec.port } } } }] },
        },
      ],
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } },
  });
}

export function buildFixtures(n: number, settings: Settings): ReconcileFixture[] {
  const fixtures: ReconcileFixture[] = [];
  for (let i = 0; i < n; i++) {
    const deployment = deploymentFixture(i);
    const parsed = parseExposeSpec(deployment, settings);
    if (parsed.kind !== 'expose') throw new Error(`fixture ${i} does not parse: ${JSON.stringify(parsed)}`);
    fixtures.push({ deployment, liveService: liveServiceFor(parsed.spec, i), liveIngress: liveIngressFor(parsed.spec, i) });
  }
  return fixtures;
}
