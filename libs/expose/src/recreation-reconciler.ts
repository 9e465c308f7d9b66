// Reconcile for the service- and ingress-controllers: they react to deletions
// of managed objects (and, on start and resync, to objects missing for live
// Deployments: deletions that happened while they were down). They create,
// never patch or delete: the deployment-controller owns the spec. They call a
// creation a recreation only with evidence the object existed (docs/design.md §3.4,
// and see deletionEvidence).
import type { V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ExposeSpec, type ExposeSettings, parseExposeSpec, shouldWatchNamespace } from '@ekspose/labels';
import { type Clock, type ControllerMetrics, type EventRecorder, type ObjectCache, type ReconcileResult, describeError, isConflict, realClock, splitKey } from '@ekspose/k8s';
import type { DeletionAnswer } from '@ekspose/events';
import type { ExposeEvents } from './event-port';
import { ExposeReason, exposedMessage } from './event-reasons';
import { type ReadGateway, readExposedUrl } from './gateway-reader';
import type { ExposeMetrics } from './expose-metrics';
import { involved } from './involved';
import type { OwnedBinding, OwnedObject } from './kind-descriptors';
import { ownershipOf } from './ownership';
import { type DeletionEvidence, decideRecreation, deletionEvidence, isEvidenceOfDeletion } from './recreation';

export interface RecreationReconcilerOptions<T extends OwnedObject> {
  settings: ExposeSettings;
  deployments: ObjectCache<V1Deployment>;
  /** The kind this controller puts back, its API and its managed-only informer. */
  owned: OwnedBinding<T>;
  readDeployment: (namespace: string, name: string) => Promise<V1Deployment | undefined>;
  events: ExposeEvents;
  recorder: Pick<EventRecorder, 'normal'>;
  metrics: Pick<ControllerMetrics, 'objectWritten'>;
  exposeMetrics: ExposeMetrics;
  log: Logger;
  clock?: Clock;
  /** A reason not to recreate despite a yes (e.g. an older Ingress holds the host). */
  veto?: (spec: ExposeSpec) => string | undefined;
  /** The Gateway an HTTPRoute attaches to, for the URL told when this controller makes a missing route (https or not). */
  readGateway?: ReadGateway;
  /** Told whether the last decision could consult NATS, for readiness details. */
  onNatsConsulted?: (record: DeletionAnswer) => void;
}

const DONE: ReconcileResult = { kind: 'done' };

export class RecreationReconciler<T extends OwnedObject> {
  private readonly clock: Clock;
  /** Keys whose object the watch saw deleted, until the reconcile has acted on it. */
  private readonly witnessed = new Set<string>();

  constructor(private readonly opts: RecreationReconcilerOptions<T>) {
    this.clock = opts.clock ?? realClock;
  }

  /** From the owned informer's delete handler: the deletion is evidence the object existed. */
  noteDeleted(key: string): void {
    this.witnessed.add(key);
  }

  /** This replica stopped leading, or let the keys `gone` says go with their shard range: the evidence it noted goes (their next owner asks NATS instead). */
  reset(gone: (key: string) => boolean = () => true): void {
    for (const key of [...this.witnessed]) if (gone(key)) this.witnessed.delete(key);
  }

  /** Deletions noted and not yet acted on: zero on a replica that does not lead. */
  get witnessedCount(): number {
    return this.witnessed.size;
  }

  /**
   * An object ekspose does not own has the name: nothing to put back, and
   * nothing to ask the API server (the deployment-controller warns about it).
   * The names cache holds only objects without ekspose's managed-by label (a
   * managed object is the managed cache's, checked first by the callers), so
   * ownershipOf says foreign for all of them; it is asked all the same.
   */
  private heldByForeign(namespace: string, name: string): boolean {
    const holder = this.opts.owned.names.get(namespace, name);
    return holder !== undefined && ownershipOf(holder.metadata, '').kind === 'foreign';
  }

  /** Live Deployments that want an object of this kind and have none: checked on start and on resync. */
  missingKeys(): string[] {
    const keys: string[] = [];
    if (!this.served()) return keys;
    for (const dep of this.opts.deployments.list()) {
      const ns = dep.metadata?.namespace ?? '';
      const name = dep.metadata?.name ?? '';
      if (dep.metadata?.deletionTimestamp || !shouldWatchNamespace(ns, this.opts.settings)) continue;
      if (this.opts.owned.cache.get(ns, name) || this.heldByForeign(ns, name)) continue;
      const parsed = parseExposeSpec(dep, this.opts.settings);
      if (parsed.kind === 'expose' && this.opts.owned.kind.desired(parsed.spec)) keys.push(`${ns}/${name}`);
    }
    return keys;
  }

  reconcile = async (key: string): Promise<ReconcileResult> => {
    const [namespace, name] = splitKey(key);
    const { kind } = this.opts.owned;
    const what = kind.metricKind;
    if (!shouldWatchNamespace(namespace, this.opts.settings) || !this.served() || this.opts.owned.cache.get(namespace, name) || this.heldByForeign(namespace, name)) {
      return this.settled(key);
    }

    const { dep, record } = await this.liveAndRecord(key, namespace, name);
    const uid = dep?.metadata?.uid;
    const terminating = Boolean(dep?.metadata?.deletionTimestamp);
    const decision = decideRecreation({
      deployment: dep ? { uid, terminating } : undefined,
      parsed: dep ? parseExposeSpec(dep, this.opts.settings) : undefined,
      record,
      wants: (spec) => kind.desired(spec) !== null,
    });
    if (!decision.recreate) {
      this.opts.exposeMetrics.decision(what, 'cascade');
      this.opts.log.info({ key, kind: kind.kind, decision: 'leave', why: decision.reason }, `${what} not recreated`);
      return this.settled(key);
    }
    if (!decision.natsConsulted) this.opts.log.warn({ key, kind: kind.kind }, 'NATS unavailable: deciding from the live API alone');
    const spec = decision.spec;
    const vetoed = this.opts.veto?.(spec);
    if (vetoed) {
      this.opts.log.info({ key, kind: kind.kind, decision: 'leave', why: vetoed }, `${what} not recreated`);
      return this.settled(key);
    }
    const witnessed = this.witnessed.has(key);
    const exposure = witnessed ? undefined : await this.opts.events.wasExposed(namespace, name, spec.uid, what);
    const evidence = deletionEvidence(witnessed, exposure);
    if (evidence === 'nats-unavailable') {
      this.opts.log.warn({ key, kind: kind.kind }, `NATS unavailable: cannot tell whether the ${kind.kind} existed; reporting it as missing`);
    }
    const created = await this.create(key, spec, evidence);
    if (created) await this.report(key, dep!, spec, created, evidence);
    return this.settled(key);
  };

  /**
   * The Deployment as the API has it now, and what NATS says of its uid. Live,
   * not the cache: the question is about now, and a stale cache is how
   * controllers fight. A deployment.deleted record never outvotes the live API:
   * when it says deleted, the Deployment is read again; alive with the same
   * uid and not terminating, the record is wrong (forged, or about another
   * life of the name) and is overruled. Terminating or gone on the second read
   * is the race the record exists for, and it stands.
   */
  private async liveAndRecord(key: string, namespace: string, name: string): Promise<{ dep: V1Deployment | undefined; record: DeletionAnswer }> {
    const dep = await this.opts.readDeployment(namespace, name);
    const uid = dep?.metadata?.uid;
    if (!dep || !uid || dep.metadata?.deletionTimestamp) return { dep, record: 'not-deleted' };
    const record = await this.opts.events.wasDeploymentDeleted(namespace, name, uid);
    this.opts.onNatsConsulted?.(record);
    if (record !== 'deleted') return { dep, record };
    const again = await this.opts.readDeployment(namespace, name);
    if (again?.metadata?.uid === uid && !again.metadata?.deletionTimestamp) {
      this.opts.exposeMetrics.contradicted(this.opts.owned.kind.metricKind);
      this.opts.log.warn({ key, uid }, 'a deployment.deleted record names a Deployment that is alive; the live API wins');
      return { dep: again, record: 'not-deleted' };
    }
    return { dep: again, record };
  }

  /** The create; undefined when another writer was first (409: done). A failure keeps the key's evidence for the retry. */
  private async create(key: string, spec: ExposeSpec, evidence: DeletionEvidence): Promise<T | undefined> {
    const { kind, api } = this.opts.owned;
    const started = this.clock.now();
    try {
      const created = await api.create(spec.namespace, kind.desired(spec) as T);
      this.opts.metrics.objectWritten(kind.metricKind, 'create');
      this.opts.log.debug({ key, kind: kind.kind, evidence, durationMs: this.clock.now() - started }, `${kind.metricKind} create`);
      return created;
    } catch (err) {
      // Another controller (or the deployment-controller) was first, or a foreign object took the name.
      if (isConflict(err)) {
        this.opts.log.info({ key, kind: kind.kind, result: 'already exists' }, `${kind.metricKind} exists already`);
        return undefined;
      }
      this.opts.log.warn({ key, kind: kind.kind, err: describeError(err) }, `${kind.metricKind} create failed`);
      throw err;
    }
  }

  /** Tells what happened, in words that match the evidence: recreated only when it is known to have existed. */
  private async report(key: string, dep: V1Deployment, spec: ExposeSpec, created: T, evidence: DeletionEvidence): Promise<void> {
    const { kind } = this.opts.owned;
    const recreated = isEvidenceOfDeletion(evidence);
    this.opts.exposeMetrics.decision(kind.metricKind, recreated ? 'recreate' : 'create');
    this.opts.log.info(
      { key, kind: kind.kind, action: recreated ? 'recreate' : 'create-missing', evidence, uid: created.metadata?.uid },
      recreated ? `${kind.metricKind} recreated` : `${kind.metricKind} created (it was missing)`,
    );
    const message = recreated
      ? `${kind.kind} ${spec.name} was deleted while the Deployment still exists; recreated`
      : `${kind.kind} ${spec.name} was missing; created`;
    this.opts.recorder.normal(involved(dep), recreated ? kind.reasons.recreated : kind.reasons.created, message);
    if (recreated) kind.announceRecreated(this.opts.events, this.opts.log, spec, created, new Date(this.clock.now()).toISOString());
    else if (kind.claimsHost && spec.ingress) await this.tellUrl(dep, spec);
  }

  /**
   * A route this controller made because it was missing (at its start, or a
   * sweep that ran before the deployment-controller reached a new Deployment):
   * the deployment-controller finds it in place and tells nothing, so the URL
   * it makes reachable is told here, in the deployment-controller's words.
   * After a recreation it was told when the route was first made.
   */
  private async tellUrl(dep: V1Deployment, spec: ExposeSpec): Promise<void> {
    const url = await readExposedUrl(spec.ingress!, this.opts.readGateway);
    this.opts.recorder.normal(involved(dep), ExposeReason.Exposed, exposedMessage(url, this.opts.owned.kind.kind, spec.name));
  }

  /** The API server serves the kind (a CRD may not be installed yet: then there is nothing to put back). */
  private served(): boolean {
    return this.opts.owned.available?.() ?? true;
  }

  /** The key's deletion has been acted on: the next one needs evidence of its own. */
  private settled(key: string): ReconcileResult {
    this.witnessed.delete(key);
    return DONE;
  }
}
