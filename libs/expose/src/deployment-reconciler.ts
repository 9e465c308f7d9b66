// The deployment-controller's reconcile: the one writer of the owned objects'
// spec. Level-based: given a key it reads the Deployment (cache, then the API
// when the cache has none) and makes each owned kind match, or removes them
// when the Deployment is gone or terminating. One kind failing never blocks
// another: each is reconciled on its own and the first error is rethrown last.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ExposeSpec, type ExposeSettings, parseExposeSpec, shouldWatchNamespace } from '@ekspose/labels';
import { type Clock, type ControllerMetrics, type EventRecorder, type ObjectCache, type ReconcileResult } from '@ekspose/k8s';
import { isConflict, readOrUndefined, realClock, splitKey } from '@ekspose/k8s';
import { DeletionOutbox } from './deletion-outbox';
import { DeploymentWarnings } from './deployment-warnings';
import { type ExposeEvents, announce, exposedRecord } from './event-port';
import { type ReadGateway, readExposedUrl } from './gateway-reader';
import type { ExposeMetrics } from './expose-metrics';
import { type HostClaim, type HostIndex, type HostPath, type RouteObject, claimsOf, hostHeldBy } from './host-conflict';
import { HostWaitList } from './host-wait-list';
import { NameConflicts } from './name-conflicts';
import { involved } from './involved';
import { ownersMissing } from './owner-keys';
import type { OwnedBinding, OwnedObject } from './kind-descriptors';
import { controllerReference, ownershipOf } from './ownership';
import { ObjectWriter } from './object-writer';
import { StatusGrace, withRecheck } from './status-grace';

export interface DeploymentReconcilerOptions {
  settings: ExposeSettings;
  deployments: ObjectCache<V1Deployment>;
  /** Every owned kind with its API, its managed-only informer and its names informer. */
  owned: OwnedBinding[];
  /** Route claims; this reconciler reserves and records its own writes in it (see HostIndex). */
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

/** What the deployment-controller keeps per Deployment; all zero on a replica that does not lead. */
export interface DeploymentBookkeeping {
  tombstones: number;
  owedRecords: number;
  hostWaiters: number;
  nameConflicts: number;
  /** Route status problems within their grace (a recheck pending). */
  statusGraces: number;
  warnings: number;
}

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
  private readonly nameConflicts = new NameConflicts();
  private readonly clock: Clock;
  private readonly writer: ObjectWriter;
  private readonly statusGrace = new StatusGrace();

  constructor(private readonly opts: DeploymentReconcilerOptions) {
    this.clock = opts.clock ?? realClock;
    this.writer = new ObjectWriter({ metrics: opts.metrics, log: opts.log, clock: this.clock });
    this.outbox = new DeletionOutbox({ events: opts.events, log: opts.log, clock: this.clock });
    this.warnings = new DeploymentWarnings({ recorder: opts.recorder, exposeMetrics: opts.exposeMetrics, log: opts.log });
  }

  /** From the Deployment informer's delete handler: remember the uid for the deletion record. */
  noteDeleted(dep: V1Deployment): void {
    const uid = dep.metadata?.uid;
    if (uid) this.outbox.noteDeleted(`${dep.metadata?.namespace}/${dep.metadata?.name}`, uid);
  }

  /** From the HostIndex: host/paths that lost their last claim; the Deployments waiting for them. */
  keysWaitingFor(freed: HostPath[]): string[] {
    return this.hostWaiters.release(freed);
  }

  /** Whether the Deployment `key` waits for a foreign object of `kind` to give up its name. */
  waitsForName(key: string, kind: string): boolean {
    return this.nameConflicts.isHeld(key, kind);
  }

  /**
   * This replica stopped leading: nothing of its term is kept (the next term
   * starts from a resync). With `gone`, a shard range was let go: nothing of
   * its keys is kept (its next holder starts from its own resync and sweep).
   */
  reset(gone: (key: string) => boolean = () => true): void {
    this.outbox.reset(gone);
    this.hostWaiters.forgetWhere(gone);
    this.nameConflicts.forgetWhere(gone);
    this.statusGrace.forgetWhere(gone);
    this.warnings.reset(gone);
  }

  bookkeeping(): DeploymentBookkeeping {
    return {
      tombstones: this.outbox.tombstoneCount,
      owedRecords: this.outbox.owedCount,
      hostWaiters: this.hostWaiters.size,
      nameConflicts: this.nameConflicts.size,
      statusGraces: this.statusGrace.size,
      warnings: this.warnings.size,
    };
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
    if (parsed.kind !== 'expose') return this.notExposed(key, dep, parsed);
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
        if (outcome !== 'conflict') this.nameConflicts.release(key, binding.kind.kind);
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
    if (![...outcomes.values()].includes('held')) this.hostWaiters.forget(key);
    await this.tellUrl(key, dep, spec, outcomes);
    if (failure) throw failure;
    // No requeue for a name held by a foreign object: its deletion (or its change of hands) is watched, and brings the key back.
    return DONE;
  };

  /** Ignored or invalid: nothing is written for it, and it waits for no name and no host. No retry: its next change brings it back. */
  private async notExposed(key: string, dep: V1Deployment, parsed: Exclude<ReturnType<typeof parseExposeSpec>, { kind: 'expose' }>): Promise<ReconcileResult> {
    this.nameConflicts.forget(key);
    this.hostWaiters.forget(key);
    if (parsed.kind === 'ignored') {
      this.warnings.clear(key, 'invalid');
      this.opts.log.debug({ key, reason: parsed.reason }, 'deployment ignored');
    } else {
      await this.warnings.invalid(key, dep, parsed.problems);
    }
    return DONE;
  }

  private async reconcileKind<T extends OwnedObject>(key: string, dep: V1Deployment, spec: ExposeSpec, binding: OwnedBinding<T>): Promise<EnsureOutcome> {
    const { kind, cache } = binding;
    const live = cache.get(spec.namespace, spec.name);
    const desired = kind.desired(spec);
    if (!desired) {
      if (live && ownershipOf(live.metadata, spec.uid).kind !== 'foreign') {
        const why = `the Deployment no longer asks for an ${kind.kind}`;
        await this.deleteOwned(binding, live, key, why);
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
    if (!kind.claimsHost || !spec.ingress) return this.ensure(key, dep, spec, binding, desired);
    const claim = this.claimHost(key, spec, binding, live);
    if ('holder' in claim) {
      await this.heldBy(key, dep, binding, live, claim.holder);
      return 'held';
    }
    try {
      return await this.ensure(key, dep, spec, binding, desired);
    } finally {
      claim.release();
    }
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
    await this.warnings.exposed(key, dep, route.kind, await readExposedUrl(spec.ingress, this.opts.readGateway));
  }

  /**
   * The host and path for this Deployment's route, decided without an await in
   * between: either an older claim holds it, or a reservation counts for this
   * Deployment from now until its write is done (see HostIndex), so a second
   * Deployment of the same apply, checked meanwhile, is held.
   */
  private claimHost<T extends OwnedObject>(key: string, spec: ExposeSpec, binding: OwnedBinding<T>, live: T | undefined): { holder: HostClaim } | { release: () => void } {
    const { host, path } = spec.ingress!;
    const own = live as RouteObject | undefined;
    const holder = hostHeldBy(spec.ingress!, spec, own, this.opts.hostIndex.claims(host, path), binding.kind.kind as HostClaim['kind']);
    if (holder) return { holder };
    this.warnings.clear(key, 'host');
    this.hostWaiters.forget(key);
    const existing = own && claimsOf(own).find((c) => c.host === host && c.path === path);
    const claim: HostClaim = existing ?? { kind: binding.kind.kind as HostClaim['kind'], namespace: spec.namespace, name: spec.name, host, path, createdAt: this.clock.now() };
    return { release: this.opts.hostIndex.reserve(claim) };
  }

  /** An older object holds the host and path: ours (if any) is removed, and the key waits for the host to be freed. */
  private async heldBy<T extends OwnedObject>(key: string, dep: V1Deployment, binding: OwnedBinding<T>, live: T | undefined, holder: HostClaim): Promise<void> {
    const { host, path } = holder;
    this.hostWaiters.wait(key, host, path);
    await this.warnings.hostHeld(key, dep, binding.kind, holder);
    // The index may know of our route before the managed cache does (two replicas wrote one host at once): read it.
    const [namespace, name] = splitKey(key);
    const ownInIndex = [...this.opts.hostIndex.claims(host, path)].some((c) => c.namespace === namespace && c.name === name && c.kind === binding.kind.kind);
    const target = live ?? (ownInIndex ? await readOrUndefined(binding.api.read(namespace, name)) : undefined);
    if (target && ownershipOf(target.metadata, dep.metadata?.uid ?? '').kind !== 'foreign') {
      await this.deleteOwned(binding, target, key, 'host held by an older object');
    }
  }

  /** A write's result counts in the host index at once, not when its watch event arrives. */
  private recorded<T extends OwnedObject>(binding: OwnedBinding<T>, obj: T): void {
    if (binding.kind.claimsHost) this.opts.hostIndex.upsert(obj as RouteObject);
  }

  private async deleteOwned<T extends OwnedObject>(binding: OwnedBinding<T>, obj: T, key: string, why: string): Promise<void> {
    if ((await this.writer.delete(binding, obj, key, why)) && binding.kind.claimsHost) this.opts.hostIndex.remove(obj as RouteObject);
  }

  /** Create, take over, or patch one owned object so it matches `desired`. */
  private async ensure<T extends OwnedObject>(key: string, dep: V1Deployment, spec: ExposeSpec, binding: OwnedBinding<T>, desired: T): Promise<EnsureOutcome> {
    const { kind, api } = binding;
    let live = binding.cache.get(spec.namespace, spec.name);
    if (!live) {
      // Not among ours. Every name of the kind ekspose does not manage is watched (metadata only): a
      // foreign holder is known without a request, and its deletion brings the key back. (A managed
      // holder controlled by something else is in the managed cache, and found foreign below.)
      const holder = binding.names.get(spec.namespace, spec.name);
      const held = holder && ownershipOf(holder.metadata, spec.uid);
      if (held?.kind === 'foreign') return this.nameHeld(key, dep, binding, holder!, held.reason);
      if (!holder) {
        try {
          this.recorded(binding, await this.writer.create(binding, key, spec.namespace, desired));
          this.warnings.clear(key, kind.kind);
          return 'created';
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      // It exists, and a cache lags: ours, not yet in the managed cache, or someone's the names cache has not seen yet.
      live = await api.read(spec.namespace, spec.name);
    }
    const ownership = ownershipOf(live.metadata, spec.uid);
    if (ownership.kind === 'foreign') return this.nameHeld(key, dep, binding, live, ownership.reason);
    this.warnings.clear(key, kind.kind);
    if (ownership.kind === 'stale' && ownership.previousUid) {
      // The Deployment was replaced while we were not looking: the old one is deleted.
      await this.outbox.send(spec.namespace, spec.name, ownership.previousUid);
    }
    await this.tellStatus(key, dep, kind, live);
    const patch = kind.drift(live, desired);
    if (!patch) return 'unchanged';
    this.recorded(binding, await this.writer.patch(binding, key, spec, patch, ownership.kind === 'stale' ? 'take-over' : 'patch'));
    return 'patched';
  }

  /** A foreign object holds the name: never touched; its Warning once (again when it changes); no request until its watch event. */
  private async nameHeld<T extends OwnedObject>(key: string, dep: V1Deployment, binding: OwnedBinding<T>, holder: OwnedObject, reason: string): Promise<EnsureOutcome> {
    this.nameConflicts.hold(key, binding.kind.kind);
    await this.warnings.foreign(key, dep, binding.kind, holder as T, reason);
    return 'conflict';
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
    for (const [binding, obj] of doomed) await this.deleteOwned(binding, obj, key, why);
    this.outbox.clearTombstone(key);
    this.warnings.forget(key);
    this.nameConflicts.forget(key);
    this.hostWaiters.forget(key);
    this.statusGrace.forget(key);
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
