// The deployment-controller's reconcile: the one writer of the owned objects'
// spec. Level-based: given a key it reads the Deployment (cache, then the API
// when the cache has none) and makes each owned kind match, or removes them
// when the Deployment is gone or terminating. One kind failing never blocks
// another: each is reconciled on its own and the first error is rethrown last.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ExposeSpec, type ExposeSettings, parseExposeSpec, shouldWatchNamespace } from '@ekspose/labels';
import { type Clock, type ControllerMetrics, type EventRecorder, type Informer, type ReconcileResult } from '@ekspose/k8s';
import { isConflict, readOrUndefined, realClock, splitKey } from '@ekspose/k8s';
import { ConflictRetry } from './conflict-retry';
import { DeletionOutbox } from './deletion-outbox';
import { DeploymentWarnings } from './deployment-warnings';
import { type ExposeEvents, announce, exposedRecord } from './event-port';
import { exposedUrl } from './gateway-listeners';
import type { ReadGateway } from './gateway-reader';
import type { ExposeMetrics } from './expose-metrics';
import { type HostIndex, type RouteObject, claimsOf, hostHeldBy } from './host-conflict';
import { HostWaitList } from './host-wait-list';
import { involved } from './involved';
import { ownersMissing } from './keys';
import type { OwnedBinding, OwnedObject } from './owned-kinds';
import { controllerReference, ownershipOf } from './ownership';
import { OwnedWriter } from './owned-writer';
import { StatusGrace, withRecheck } from './status-grace';

export interface DeploymentReconcilerOptions {
  settings: ExposeSettings;
  deployments: Informer<V1Deployment>;
  /** Every owned kind with its API and its managed-only informer. */
  owned: OwnedBinding[];
  hostIndex: HostIndex;
  readDeployment: (namespace: string, name: string) => Promise<V1Deployment | undefined>;
  events: ExposeEvents;
  recorder: Pick<EventRecorder, 'warning' | 'normal'>;
  metrics: Pick<ControllerMetrics, 'objectWritten'>;
  exposeMetrics: ExposeMetrics;
  log: Logger;
  clock?: Clock;
  /** The Gateway an HTTPRoute attaches to, for its URL's scheme and port; without it, http://host/path. */
  readGateway?: ReadGateway;
}

const DONE: ReconcileResult = { kind: 'done' };
/** What the API server puts on an owner deleted with propagationPolicy Orphan, until the collector has orphaned its dependents. */
const ORPHAN_FINALIZER = 'orphan';
/** How soon a deployment.deleted that NATS could not take is tried again. */
export const UNPUBLISHED_RETRY_MS = 15_000;

/**
 * `conflict`: a foreign object holds the name; `held`: an older object holds the host and path;
 * `unavailable`: the API server does not serve the kind; `kept`: unwanted, but kept until its replacement is in place.
 */
type EnsureOutcome = 'unwanted' | 'unchanged' | 'created' | 'patched' | 'conflict' | 'held' | 'unavailable' | 'kept';
const IN_PLACE: readonly EnsureOutcome[] = ['created', 'unchanged', 'patched'];

export class DeploymentReconciler {
  private readonly outbox: DeletionOutbox;
  private readonly hostWaiters = new HostWaitList();
  private readonly warnings: DeploymentWarnings;
  private readonly conflicts = new ConflictRetry();
  private readonly clock: Clock;
  private readonly writer: OwnedWriter;
  private readonly statusGrace = new StatusGrace();

  constructor(private readonly opts: DeploymentReconcilerOptions) {
    this.clock = opts.clock ?? realClock;
    this.writer = new OwnedWriter({ metrics: opts.metrics, log: opts.log, clock: this.clock });
    this.outbox = new DeletionOutbox({ events: opts.events, log: opts.log, clock: this.clock });
    this.warnings = new DeploymentWarnings({ recorder: opts.recorder, exposeMetrics: opts.exposeMetrics, log: opts.log });
  }

  /** From the Deployment informer's delete handler: remember the uid for the deletion record. */
  noteDeleted(dep: V1Deployment): void {
    const uid = dep.metadata?.uid;
    if (uid) this.outbox.noteDeleted(`${dep.metadata?.namespace}/${dep.metadata?.name}`, uid);
  }

  /** From a route informer's delete handler: the Deployments waiting for the host and path it held. */
  keysWaitingFor(route: RouteObject): string[] {
    return this.hostWaiters.release(claimsOf(route));
  }

  /** deployment.deleted records NATS has not taken yet. */
  get owedDeletionRecords(): number {
    return this.outbox.owedCount;
  }

  /** Keys whose managed objects exist but whose Deployment does not: swept on start and on resync. */
  orphanKeys(): string[] {
    return ownersMissing(this.opts.owned.map((b) => b.cache), this.opts.deployments);
  }


  /** One reconcile; back again when a route's status problem is still in its grace. */
  reconcile = async (key: string): Promise<ReconcileResult> =>
    withRecheck(await this.reconcileOnce(key), this.statusGrace.recheckIn(key, this.clock.now()));

  private reconcileOnce = async (key: string): Promise<ReconcileResult> => {
    const [namespace, name] = splitKey(key);
    if (!shouldWatchNamespace(namespace, this.opts.settings)) return DONE;
    const dep = this.opts.deployments.get(namespace, name) ?? (await this.opts.readDeployment(namespace, name));
    if (!dep || dep.metadata?.deletionTimestamp) return this.cleanUp(key, dep);
    this.outbox.clearTombstone(key);
    // Records of an earlier Deployment of this name that NATS could not take then.
    for (const uid of this.outbox.owed(key)) await this.outbox.send(namespace, name, uid);

    const parsed = parseExposeSpec(dep, this.opts.settings);
    if (parsed.kind === 'ignored') {
      this.warnings.clear(key, 'invalid');
      this.opts.log.debug({ key, reason: parsed.reason }, 'deployment ignored');
      return DONE;
    }
    if (parsed.kind === 'invalid') {
      await this.warnings.invalid(key, dep, parsed.problems);
      // No retry: the Deployment's next change brings it back.
      return DONE;
    }
    this.warnings.clear(key, 'invalid');
    const spec = parsed.spec;
    const outcomes = new Map<string, EnsureOutcome>();
    let failure: unknown;
    // The wanted kinds first: an Ingress replaced by an HTTPRoute (or back) goes only once the new one is in place.
    const wanted = this.opts.owned.filter((b) => b.kind.desired(spec) !== null);
    const unwanted = this.opts.owned.filter((b) => !wanted.includes(b));
    const attempt = async (binding: OwnedBinding<OwnedObject>): Promise<{ binding: OwnedBinding<OwnedObject>; outcome?: EnsureOutcome; err?: unknown }> => {
      try {
        return { binding, outcome: await this.reconcileKind(key, dep, spec, binding) };
      } catch (err) {
        return { binding, err };
      }
    };
    const settle = async (result: Awaited<ReturnType<typeof attempt>>) => {
      const { binding, outcome, err } = result;
      if (outcome !== undefined) {
        outcomes.set(binding.kind.metricKind, outcome);
        this.warnings.clear(key, `${binding.kind.kind}-refused`);
      } else {
        failure ??= err;
        await this.warnings.refused(key, dep, binding.kind, err);
      }
    };
    // The wanted kinds are independent objects: written at once, so one Deployment costs one round trip, not one per kind.
    for (const result of await Promise.all(wanted.map(attempt))) await settle(result);
    for (const binding of unwanted) {
      if (spec.ingress && !wanted.every((b) => IN_PLACE.includes(outcomes.get(b.kind.metricKind) ?? 'unwanted'))) {
        outcomes.set(binding.kind.metricKind, 'kept');
        continue;
      }
      await settle(await attempt(binding));
    }
    if ([...outcomes.values()].includes('created')) {
      const exists = (kind: string) => IN_PLACE.includes(outcomes.get(kind) ?? 'unwanted');
      announce(this.opts.events, this.opts.log, 'deployment.exposed', exposedRecord(spec, exists, this.clock.now()));
    }
    await this.tellUrl(key, dep, spec, outcomes);
    if (failure) throw failure;
    // A foreign object of the name is not watched: look again, so the Deployment is served soon after it goes.
    if ([...outcomes.values()].includes('conflict')) return { kind: 'requeueAfter', delayMs: this.conflicts.next(key) };
    this.conflicts.clear(key);
    return DONE;
  };

  private async reconcileKind<T extends OwnedObject>(key: string, dep: V1Deployment, spec: ExposeSpec, binding: OwnedBinding<T>): Promise<EnsureOutcome> {
    const { kind, cache } = binding;
    const live = cache.get(spec.namespace, spec.name);
    const desired = kind.desired(spec);
    if (!desired) {
      if (live && ownershipOf(live.metadata, spec.uid).kind !== 'foreign') {
        const why = `the Deployment no longer asks for an ${kind.kind}`;
        await this.writer.delete(binding, live, key, why);
        if (kind.reasons.unwanted) this.opts.recorder.normal(involved(dep), kind.reasons.unwanted, `${kind.kind} ${spec.name} deleted: ${why}`);
      }
      return 'unwanted';
    }
    if (binding.available && !binding.available()) {
      // Nothing to write; the binding's gate brings the key back once the kind is served.
      await this.warnings.unavailable(key, dep, kind);
      return 'unavailable';
    }
    this.warnings.clear(key, `${kind.kind}-unavailable`);
    if (kind.claimsHost && spec.ingress && (await this.heldByOlder(key, dep, spec, binding, live))) return 'held';
    return this.ensure(key, dep, spec, binding, desired);
  }

  /**
   * A Warning while the object's own controller reports it wrong (once per
   * message) and has for the grace (a flicker right after a write is not news);
   * nothing once it is fine.
   */
  private async tellStatus<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedBinding<T>['kind'], live: T): Promise<void> {
    const problem = kind.statusProblem?.(live);
    const verdict = this.statusGrace.judge(key, kind.kind, problem !== undefined, this.clock.now());
    if (verdict.kind === 'tell') await this.warnings.statusProblem(key, dep, kind, problem!);
    else if (verdict.kind === 'fine') this.warnings.clear(key, `${kind.kind}-status`);
  }

  /**
   * The Normal Exposed Event: `http(s)://host/path through <kind>`, when this
   * reconcile made or corrected the route (so once per change of URL; a
   * restart over a correct cluster tells nothing again).
   */
  private async tellUrl(key: string, dep: V1Deployment, spec: ExposeSpec, outcomes: Map<string, EnsureOutcome>): Promise<void> {
    // A kind no longer wanted has no status to tell: nothing is kept for it, and it is told afresh if it comes back.
    for (const { kind } of this.opts.owned) {
      if (!kind.statusProblem || kind.desired(spec) !== null) continue;
      this.statusGrace.forget(key, kind.kind);
      this.warnings.clear(key, `${kind.kind}-status`);
    }
    // The external route wanted: the kind that claims the host (Ingress or HTTPRoute).
    const route = this.opts.owned.find((b) => b.kind.claimsHost && b.kind.desired(spec) !== null);
    if (!spec.ingress || !route || !['created', 'patched'].includes(outcomes.get(route.kind.metricKind) ?? 'unwanted')) {
      if (!spec.ingress) this.warnings.clear(key, 'exposed');
      return;
    }
    const gateway = spec.ingress.gateway;
    const listenersOf = gateway && spec.ingress.routeKind === 'httproute' ? await this.opts.readGateway?.(gateway.namespace, gateway.name) : undefined;
    await this.warnings.exposed(key, dep, route.kind, exposedUrl(spec.ingress, listenersOf));
  }

  /** True when an older object holds the host and path; then ours (if any) is removed and the key waits. */
  private async heldByOlder<T extends OwnedObject>(key: string, dep: V1Deployment, spec: ExposeSpec, binding: OwnedBinding<T>, live: T | undefined): Promise<boolean> {
    const { host, path } = spec.ingress!;
    const holder = hostHeldBy(spec.ingress!, spec, live, this.opts.hostIndex.claims(host, path));
    if (!holder) {
      this.warnings.clear(key, 'host');
      return false;
    }
    this.hostWaiters.wait(key, host, path);
    await this.warnings.hostHeld(key, dep, binding.kind, holder);
    if (live && ownershipOf(live.metadata, spec.uid).kind !== 'foreign') {
      await this.writer.delete(binding, live, key, 'host held by an older object');
    }
    return true;
  }

  /** Create, take over, or patch one owned object so it matches `desired`. */
  private async ensure<T extends OwnedObject>(key: string, dep: V1Deployment, spec: ExposeSpec, binding: OwnedBinding<T>, desired: T): Promise<EnsureOutcome> {
    const { kind, api } = binding;
    let live = binding.cache.get(spec.namespace, spec.name);
    if (!live) {
      try {
        await this.writer.create(binding, key, spec.namespace, desired);
        this.warnings.clear(key, kind.kind);
        return 'created';
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Exists but not in our managed-only cache: someone else's, or the cache lags.
        live = await api.read(spec.namespace, spec.name);
      }
    }
    const ownership = ownershipOf(live.metadata, spec.uid);
    if (ownership.kind === 'foreign') {
      await this.warnings.foreign(key, dep, kind, live, ownership.reason);
      return 'conflict';
    }
    this.warnings.clear(key, kind.kind);
    if (ownership.kind === 'stale' && ownership.previousUid) {
      // The Deployment was replaced while we were not looking: the old one is deleted.
      await this.outbox.send(spec.namespace, spec.name, ownership.previousUid);
    }
    await this.tellStatus(key, dep, kind, live);
    const patch = kind.drift(live, desired);
    if (!patch) return 'unchanged';
    await this.writer.patch(binding, key, spec, patch, ownership.kind === 'stale' ? 'take-over' : 'patch');
    return 'patched';
  }

  /**
   * The Deployment is gone (or terminating): publish deployment.deleted for
   * every uid we know it had, then delete the managed objects it controlled,
   * unless its deletion orphans them (`--cascade=orphan`): those stay, for the
   * next Deployment of the name to adopt.
   */
  private async cleanUp(key: string, terminating: V1Deployment | undefined): Promise<ReconcileResult> {
    const [namespace, name] = splitKey(key);
    const uids = new Set(this.outbox.uidsFor(key));
    if (terminating?.metadata?.uid) uids.add(terminating.metadata.uid);
    const orphaning = terminating?.metadata?.finalizers?.includes(ORPHAN_FINALIZER) ?? false;
    const doomed: Array<[OwnedBinding, OwnedObject]> = [];
    for (const binding of this.opts.owned) {
      const obj = binding.cache.get(namespace, name);
      // Not ours (no managed-by label, or controlled by something other than a Deployment): never touched.
      if (!obj || ownershipOf(obj.metadata, '').kind === 'foreign') continue;
      const ownerUid = controllerReference(obj.metadata)?.uid;
      // A terminating Deployment only takes down what it controls; a gone one leaves nothing to protect.
      if (terminating && ownerUid && ownerUid !== terminating.metadata?.uid) continue;
      if (ownerUid) uids.add(ownerUid);
      if (!orphaning && ownerUid && (terminating || (await this.stillControlled(binding, obj)))) doomed.push([binding, obj]);
    }
    for (const uid of uids) await this.outbox.send(namespace, name, uid);
    const why = terminating ? 'deployment terminating' : 'deployment deleted';
    for (const [binding, obj] of doomed) await this.writer.delete(binding, obj, key, why);
    this.outbox.clearTombstone(key);
    this.warnings.forget(key);
    this.statusGrace.forget(key);
    this.conflicts.clear(key);
    // The objects are gone; only the record is missing. Try again later, not in a hot loop.
    return this.outbox.hasOwed(key) ? { kind: 'requeueAfter', delayMs: UNPUBLISHED_RETRY_MS } : DONE;
  }

  /**
   * Whether the object still has its controller reference on the server. The
   * garbage collector removes it when it orphans dependents (`--cascade=orphan`),
   * and the cache may not have seen that yet; an orphaned object is left for the
   * next Deployment of the name. A gone object needs no delete either.
   */
  private async stillControlled(binding: OwnedBinding, cached: OwnedObject): Promise<boolean> {
    const live = await readOrUndefined(binding.api.read(cached.metadata!.namespace!, cached.metadata!.name!));
    return Boolean(live && controllerReference(live.metadata));
  }
}
