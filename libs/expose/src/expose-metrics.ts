// ekspose's own metrics, beside the runtime's (libs/k8s metrics.ts) on the
// same registry and with the same `controller` label.
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX, counterFor } from '@ekspose/k8s';

/** The lower-case kinds ekspose writes; also the metric label. */
export type ObjectKind = 'service' | 'ingress' | 'httproute';
/**
 * After a managed object went missing: `recreate` (evidence it was deleted),
 * `create` (missing, never seen deleted), `cascade` (left gone).
 */
export type Decision = 'recreate' | 'create' | 'cascade';

export interface ExposeMetrics {
  /** key is the Deployment-side label/annotation that was invalid (bounded), not the object key. */
  invalidSpec(key: string): void;
  /** Where the number of Deployments invalid right now is read from, at each scrape (the deployment-controller's Warnings). */
  countInvalid(read: () => number): void;
  conflict(kind: ObjectKind | 'host'): void;
  decision(kind: ObjectKind, decision: Decision): void;
  /** A write the API server refused and the user has to act on (quota, IP range, webhook). */
  refused(kind: ObjectKind): void;
  /** A deployment.deleted record named a Deployment the live API shows alive: the record lost. */
  contradicted(kind: ObjectKind): void;
}

export function createExposeMetrics(registry: Registry, controller: string): ExposeMetrics {
  const invalidSpec = counterFor(registry, `${METRIC_PREFIX}invalid_spec_total`, 'Deployments with an invalid value, by offending key.', ['key']);
  const conflicts = counterFor(registry, `${METRIC_PREFIX}conflicts_total`, 'Objects of our name that ekspose does not own, by kind.', ['kind']);
  const decisions = counterFor(
    registry,
    `${METRIC_PREFIX}decisions_total`,
    'Decisions after a managed object went missing: recreate (seen deleted), create (never seen), cascade (left gone).',
    ['kind', 'decision'],
  );
  const refusals = counterFor(registry, `${METRIC_PREFIX}refusals_total`, 'Writes the API server refused that the user has to act on, by kind.', ['kind']);
  const contradictions = counterFor(
    registry,
    `${METRIC_PREFIX}record_contradictions_total`,
    'deployment.deleted records overruled because the live API shows the Deployment alive, by kind being decided.',
    ['kind'],
  );
  let readInvalid: (() => number) | undefined;
  if (!registry.getSingleMetric(`${METRIC_PREFIX}invalid_deployments`)) {
    new Gauge({
      name: `${METRIC_PREFIX}invalid_deployments`,
      help: 'Deployments not exposed right now because a label or annotation is invalid (reported by the deployment-controller).',
      labelNames: ['controller'],
      registers: [registry],
      collect() {
        if (readInvalid) this.set({ controller }, readInvalid());
      },
    });
  }
  return {
    countInvalid: (read) => void (readInvalid = read),
    refused: (kind) => refusals.inc({ controller, kind }),
    contradicted: (kind) => contradictions.inc({ controller, kind }),
    invalidSpec: (key) => invalidSpec.inc({ controller, key }),
    conflict: (kind) => conflicts.inc({ controller, kind }),
    decision: (kind, decision) => decisions.inc({ controller, kind, decision }),
  };
}
