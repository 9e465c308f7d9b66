// ekspose's own metrics, beside the runtime's (libs/k8s metrics.ts) on the
// same registry and with the same `controller` label.
import type { Registry } from 'prom-client';
import { METRIC_PREFIX, counterFor } from '@ekspose/k8s';

/** The lower-case kinds ekspose writes; also the metric label. */
export type ObjectKind = 'service' | 'ingress';
/**
 * After a managed object went missing: `recreate` (evidence it was deleted),
 * `create` (missing, never seen deleted), `cascade` (left gone).
 */
export type Decision = 'recreate' | 'create' | 'cascade';

export interface ExposeMetrics {
  /** key is the Deployment-side label/annotation that was invalid (bounded), not the object key. */
  invalidSpec(key: string): void;
  conflict(kind: ObjectKind | 'host'): void;
  decision(kind: ObjectKind, decision: Decision): void;
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
  return {
    invalidSpec: (key) => invalidSpec.inc({ controller, key }),
    conflict: (kind) => conflicts.inc({ controller, kind }),
    decision: (kind, decision) => decisions.inc({ controller, kind, decision }),
  };
}
