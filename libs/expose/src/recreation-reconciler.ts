// Reconcile for the service- and ingress-controllers: they only react to
// deletions of managed objects (and, on start, to objects missing for live
// Deployments: deletions that happened while they were down). They create,
// never patch or delete: the deployment-controller owns the spec.
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ExposeSpec, type Settings, parseExposeSpec, shouldWatchNamespace } from '@ekspose/labels';
import { type Clock, realClock } from './clock';
import { splitKey } from './keys';
import type { DeletionRecord, EventSink, PublishKind } from './event-sink';
import { EventReason, type EventRecorder } from './event-recorder';
import type { Informer } from './informer';
import { describeError, isConflict } from './kube-client';
import type { ControllerMetrics } from './metrics';
import type { OwnedObjectApi } from './owned-object-api';
import { decideRecreation } from './recreation';
import type { ReconcileResult } from './work-queue';

export interface RecreationReconcilerOptions<T extends V1Service | V1Ingress> {
  settings: Settings;
  deployments: Informer<V1Deployment>;
  /** Managed objects of this kind (label-selected informer). */
  owned: Informer<T>;
  api: OwnedObjectApi<T>;
  /** null = this Deployment does not want one (e.g. no ingReq). */
  desired: (spec: ExposeSpec) => T | null;
  readDeployment: (namespace: string, name: string) => Promise<V1Deployment | undefined>;
  events: EventSink;
  recorder: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  clock?: Clock;
  /** A reason not to recreate despite a yes (e.g. an older Ingress holds the host). */
  veto?: (spec: ExposeSpec) => string | undefined;
  /** Told whether the last decision could consult NATS, for readiness details. */
  onNatsConsulted?: (record: DeletionRecord) => void;
}

const DONE: ReconcileResult = { kind: 'done' };

export class RecreationReconciler<T extends V1Service | V1Ingress> {
  private readonly clock: Clock;

  constructor(private readonly opts: RecreationReconcilerOptions<T>) {
    this.clock = opts.clock ?? realClock;
  }

  /** Live Deployments that want an object of this kind and have none: checked on start. */
  missingKeys(): string[] {
    const keys: string[] = [];
    for (const dep of this.opts.deployments.list()) {
      const ns = dep.metadata?.namespace ?? '';
      const name = dep.metadata?.name ?? '';
      if (dep.metadata?.deletionTimestamp || !shouldWatchNamespace(ns, this.opts.settings)) continue;
      if (this.opts.owned.get(ns, name)) continue;
      const parsed = parseExposeSpec(dep, this.opts.settings);
      if (parsed.kind === 'expose' && this.opts.desired(parsed.spec)) keys.push(`${ns}/${name}`);
    }
    return keys;
  }

  reconcile = async (key: string): Promise<ReconcileResult> => {
    const [namespace, name] = splitKey(key);
    const kind = this.opts.api.kind;
    if (!shouldWatchNamespace(namespace, this.opts.settings)) return DONE;
    if (this.opts.owned.get(namespace, name)) return DONE;

    // Live, not the cache: the question is about now, and a stale cache is how controllers fight.
    const dep = await this.opts.readDeployment(namespace, name);
    const uid = dep?.metadata?.uid;
    const terminating = Boolean(dep?.metadata?.deletionTimestamp);
    let record: DeletionRecord = 'not-deleted';
    if (dep && uid && !terminating) {
      record = await this.opts.events.wasDeploymentDeleted(namespace, name, uid);
      this.opts.onNatsConsulted?.(record);
    }
    const decision = decideRecreation({
      deployment: dep ? { uid, terminating } : undefined,
      parsed: dep ? parseExposeSpec(dep, this.opts.settings) : undefined,
      record,
      wants: (spec) => this.opts.desired(spec) !== null,
    });
    if (!decision.recreate) {
      this.opts.metrics.decision(this.opts.api.metricKind, 'cascade');
      this.opts.log.info({ key, kind, decision: 'leave', why: decision.reason }, `${this.opts.api.metricKind} not recreated`);
      return DONE;
    }
    if (!decision.natsConsulted) {
      this.opts.log.warn({ key, kind }, 'NATS unavailable: deciding from the live API alone');
    }
    const spec = decision.spec;
    const vetoed = this.opts.veto?.(spec);
    if (vetoed) {
      this.opts.log.info({ key, kind, decision: 'leave', why: vetoed }, `${this.opts.api.metricKind} not recreated`);
      return DONE;
    }
    const body = this.opts.desired(spec)!;
    const started = this.clock.now();
    let created: T;
    try {
      created = await this.opts.api.create(namespace, body);
    } catch (err) {
      // Another controller (or the deployment-controller's resync) was first, or a foreign object took the name.
      if (isConflict(err)) {
        this.opts.log.info({ key, kind, decision: 'recreate', result: 'already exists' }, `${this.opts.api.metricKind} exists already`);
        return DONE;
      }
      this.opts.log.warn({ key, kind, err: describeError(err) }, 'recreate failed');
      throw err;
    }
    this.opts.metrics.objectWritten(this.opts.api.metricKind, 'create');
    this.opts.metrics.decision(this.opts.api.metricKind, 'recreate');
    this.opts.log.info(
      { key, kind, action: 'recreate', uid: created.metadata?.uid, durationMs: this.clock.now() - started },
      `${this.opts.api.metricKind} recreated`,
    );
    const reason = kind === 'Service' ? EventReason.ServiceRecreated : EventReason.IngressRecreated;
    await this.opts.recorder.normal(
      { name, namespace, uid: spec.uid, resourceVersion: dep?.metadata?.resourceVersion },
      reason,
      `${kind} ${name} was deleted while the Deployment still exists; recreated`,
    );
    const at = new Date(this.clock.now()).toISOString();
    const [subject, payload]: [PublishKind, Record<string, unknown>] =
      kind === 'Service'
        ? ['service.recreated', { deploymentUid: spec.uid, namespace, name, serviceUid: created.metadata?.uid ?? '', at }]
        : [
            'ingress.recreated',
            { deploymentUid: spec.uid, namespace, name, ingressUid: created.metadata?.uid ?? '', host: spec.ingress?.host ?? '', at },
          ];
    void this.opts.events.publish(subject, payload);
    return DONE;
  };
}
