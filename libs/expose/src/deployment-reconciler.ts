// The deployment-controller's reconcile: the one writer of the owned objects'
// spec. Level-based: given a key it reads the Deployment (cache, then the API
// when the cache has none) and makes its Service and Ingress match, or removes
// them when the Deployment is gone or terminating.
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type ExposeSpec,
  type Settings,
  describeProblems,
  parseExposeSpec,
  shouldWatchNamespace,
} from '@ekspose/labels';
import { type Clock, realClock } from './clock';
import type { EventSink } from './event-sink';
import { EventReason, type EventRecorder, type InvolvedDeployment } from './event-recorder';
import { type HostIndex, claimsOf, hostHeldBy } from './host-conflict';
import type { Informer } from './informer';
import { describeError, isConflict, isNotFound } from './kube-client';
import { canonical } from './drift';
import type { ControllerMetrics } from './metrics';
import type { OwnedObjectApi } from './owned-object-api';
import { desiredIngress, desiredService } from './owned-objects';
import { controllerReference, ownershipOf } from './ownership';
import { ownerKeyOf, splitKey } from './keys';
import type { ReconcileResult } from './work-queue';

export interface DeploymentReconcilerOptions {
  settings: Settings;
  deployments: Informer<V1Deployment>;
  /** Managed Services only (label-selected informer). */
  services: Informer<V1Service>;
  /** Managed Ingresses only (label-selected informer). */
  ingresses: Informer<V1Ingress>;
  hostIndex: HostIndex;
  readDeployment: (namespace: string, name: string) => Promise<V1Deployment | undefined>;
  serviceApi: OwnedObjectApi<V1Service>;
  ingressApi: OwnedObjectApi<V1Ingress>;
  events: EventSink;
  recorder: EventRecorder;
  metrics: ControllerMetrics;
  log: Logger;
  clock?: Clock;
}

const DONE: ReconcileResult = { kind: 'done' };
/** How soon a deployment.deleted that NATS could not take is tried again. */
export const UNPUBLISHED_RETRY_MS = 15_000;

function involved(dep: V1Deployment): InvolvedDeployment {
  return {
    name: dep.metadata!.name!,
    namespace: dep.metadata!.namespace!,
    uid: dep.metadata!.uid!,
    resourceVersion: dep.metadata?.resourceVersion,
  };
}

/**
 * What a user changes about a Deployment: its spec (generation), labels and
 * annotations. Status updates, which come often while Pods roll, are not a
 * reason to repeat a Warning.
 */
function userRevision(dep: V1Deployment): string {
  const m = dep.metadata;
  return `${m?.uid}/${m?.generation ?? ''}/${canonical(m?.labels ?? {})}/${canonical(m?.annotations ?? {})}`;
}

type EnsureOutcome = 'unchanged' | 'created' | 'patched' | 'conflict';

export class DeploymentReconciler {
  /** Deployments seen deleted (key → uid), until their cleanup has run. */
  private readonly tombstones = new Map<string, string>();
  /**
   * deployment.deleted records not yet acked (NATS was down), key → uids:
   * published again on the key's next reconcile (message id = uid, so a
   * repeat is de-duplicated by the stream).
   */
  private readonly unpublished = new Map<string, Set<string>>();
  /** Deployments refused a host because an older Ingress holds it: "host path" → keys. */
  private readonly hostWaiters = new Map<string, Set<string>>();
  /** Warnings already reported, so a resync does not repeat them: key|reason → fingerprint. */
  private readonly reported = new Map<string, string>();
  private readonly clock: Clock;

  constructor(private readonly opts: DeploymentReconcilerOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** From the Deployment informer's delete handler: remember the uid for the deletion event. */
  noteDeleted(dep: V1Deployment): void {
    const uid = dep.metadata?.uid;
    if (uid) this.tombstones.set(`${dep.metadata?.namespace}/${dep.metadata?.name}`, uid);
  }

  /**
   * From the Ingress informer's delete handler: the Deployments that were
   * refused this Ingress's host and path, so they get it now rather than at
   * the next resync.
   */
  keysWaitingFor(ingress: V1Ingress): string[] {
    const keys: string[] = [];
    for (const claim of claimsOf(ingress)) {
      const hostPath = `${claim.host} ${claim.path}`;
      keys.push(...(this.hostWaiters.get(hostPath) ?? []));
      this.hostWaiters.delete(hostPath);
    }
    return keys;
  }

  private waitForHost(key: string, hostPath: string): void {
    let waiting = this.hostWaiters.get(hostPath);
    if (!waiting) this.hostWaiters.set(hostPath, (waiting = new Set()));
    waiting.add(key);
  }

  /** Keys whose managed objects exist but whose Deployment does not: swept on start and on resync. */
  orphanKeys(): string[] {
    const keys = new Set<string>();
    for (const obj of [...this.opts.services.list(), ...this.opts.ingresses.list()]) {
      const key = ownerKeyOf(obj);
      const [ns, name] = splitKey(key);
      if (!this.opts.deployments.get(ns, name)) keys.add(key);
    }
    return [...keys];
  }

  reconcile = async (key: string): Promise<ReconcileResult> => {
    const [namespace, name] = splitKey(key);
    if (!shouldWatchNamespace(namespace, this.opts.settings)) return DONE;
    const dep = this.opts.deployments.get(namespace, name) ?? (await this.opts.readDeployment(namespace, name));
    if (!dep || dep.metadata?.deletionTimestamp) return this.cleanUp(key, dep);
    this.tombstones.delete(key);
    // Records of an earlier Deployment of this name that NATS could not take then.
    for (const uid of this.unpublished.get(key) ?? []) await this.publishDeleted(namespace, name, uid);

    const parsed = parseExposeSpec(dep, this.opts.settings);
    if (parsed.kind === 'ignored') {
      this.opts.log.debug({ key, reason: parsed.reason }, 'deployment ignored');
      return DONE;
    }
    if (parsed.kind === 'invalid') {
      const message = `not exposed: ${describeProblems(parsed.problems)}`;
      if (this.firstReport(key, 'invalid', `${userRevision(dep)}/${message}`)) {
        for (const p of parsed.problems) this.opts.metrics.invalidSpec(p.key);
        this.opts.log.warn({ key, problems: parsed.problems }, 'invalid exposure settings; nothing written');
        await this.opts.recorder.warning(involved(dep), EventReason.InvalidSpec, message);
      }
      // No retry: the Deployment's next change brings it back.
      return DONE;
    }
    this.reported.delete(`${key}|invalid`);
    const spec = parsed.spec;
    const service = await this.ensure(key, dep, spec, this.opts.serviceApi, this.opts.services, desiredService(spec));
    const ingress = await this.reconcileIngress(key, dep, spec);
    if (service === 'created' || ingress === 'created') {
      void this.opts.events.publish('deployment.exposed', {
        uid: spec.uid,
        namespace: spec.namespace,
        name: spec.name,
        service: { name: spec.name, port: spec.port },
        // No Ingress of ours when its host or name is taken by another object.
        ingress:
          spec.ingress && ingress !== 'conflict' ? { name: spec.name, host: spec.ingress.host, path: spec.ingress.path } : null,
        at: new Date(this.clock.now()).toISOString(),
      });
    }
    return DONE;
  };

  private async reconcileIngress(key: string, dep: V1Deployment, spec: ExposeSpec): Promise<EnsureOutcome> {
    const live = this.opts.ingresses.get(spec.namespace, spec.name);
    const desired = desiredIngress(spec);
    if (!desired || !spec.ingress) {
      if (live && ownershipOf(live.metadata, spec.uid).kind !== 'foreign') {
        await this.deleteOwned(this.opts.ingressApi, live, key, 'ingReq is no longer "needed"');
        await this.opts.recorder.normal(involved(dep), EventReason.IngressDeleted, `Ingress ${spec.name} deleted: ingReq is no longer "needed"`);
      }
      return 'unchanged';
    }
    const holder = hostHeldBy(spec.ingress, spec, live, this.opts.hostIndex.claims(spec.ingress.host, spec.ingress.path));
    if (holder) {
      this.waitForHost(key, `${spec.ingress.host} ${spec.ingress.path}`);
      const message = `host ${spec.ingress.host}${spec.ingress.path} is already served by the older Ingress ${holder.namespace}/${holder.name}; no Ingress for this Deployment`;
      this.opts.metrics.conflict('host');
      if (this.firstReport(key, 'host', `${spec.uid}/${message}`)) {
        this.opts.log.warn({ key, host: spec.ingress.host, holder: `${holder.namespace}/${holder.name}` }, 'host conflict');
        await this.opts.recorder.warning(involved(dep), EventReason.HostConflict, message);
      }
      if (live && ownershipOf(live.metadata, spec.uid).kind !== 'foreign') {
        await this.deleteOwned(this.opts.ingressApi, live, key, 'host held by an older Ingress');
      }
      return 'conflict';
    }
    this.reported.delete(`${key}|host`);
    return this.ensure(key, dep, spec, this.opts.ingressApi, this.opts.ingresses, desired);
  }

  /** Create, take over, or patch one owned object so it matches `desired`. */
  private async ensure<T extends V1Service | V1Ingress>(
    key: string,
    dep: V1Deployment,
    spec: ExposeSpec,
    api: OwnedObjectApi<T>,
    cache: Informer<T>,
    desired: T,
  ): Promise<EnsureOutcome> {
    let live = cache.get(spec.namespace, spec.name);
    if (!live) {
      const started = this.clock.now();
      try {
        await api.create(spec.namespace, desired);
        this.opts.metrics.objectWritten(api.metricKind, 'create');
        this.opts.log.info({ key, kind: api.kind, action: 'create', durationMs: this.clock.now() - started }, `${api.metricKind} created`);
        this.reported.delete(`${key}|${api.kind}`);
        return 'created';
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Exists but not in our managed-only cache: someone else's, or the cache lags.
        live = await api.read(spec.namespace, spec.name);
      }
    }
    const ownership = ownershipOf(live.metadata, spec.uid);
    if (ownership.kind === 'foreign') {
      const message = `${api.kind} ${spec.namespace}/${spec.name} exists and is not managed by ekspose (${ownership.reason}); leaving it untouched`;
      this.opts.metrics.conflict(api.metricKind);
      if (this.firstReport(key, api.kind, `${spec.uid}/${live.metadata?.uid}/${message}`)) {
        this.opts.log.warn({ key, kind: api.kind, reason: ownership.reason }, 'conflicting object not owned by ekspose');
        const reason = api.kind === 'Service' ? EventReason.ServiceConflict : EventReason.IngressConflict;
        await this.opts.recorder.warning(involved(dep), reason, message);
      }
      return 'conflict';
    }
    this.reported.delete(`${key}|${api.kind}`);
    if (ownership.kind === 'stale' && ownership.previousUid) {
      // The Deployment was replaced while we were not looking: the old one is deleted.
      await this.publishDeleted(spec.namespace, spec.name, ownership.previousUid);
    }
    const patch = api.drift(live, desired);
    if (!patch) return 'unchanged';
    const started = this.clock.now();
    await api.patch(spec.namespace, spec.name, patch);
    this.opts.metrics.objectWritten(api.metricKind, 'patch');
    this.opts.log.info(
      { key, kind: api.kind, action: ownership.kind === 'stale' ? 'take-over' : 'patch', durationMs: this.clock.now() - started },
      `${api.metricKind} updated`,
    );
    return 'patched';
  }

  /**
   * The Deployment is gone (or terminating): publish deployment.deleted for
   * every uid we know it had, then delete the managed objects it controlled.
   */
  private async cleanUp(key: string, terminating: V1Deployment | undefined): Promise<ReconcileResult> {
    const [namespace, name] = splitKey(key);
    const uids = new Set<string>();
    const tombstone = this.tombstones.get(key);
    if (tombstone) uids.add(tombstone);
    for (const uid of this.unpublished.get(key) ?? []) uids.add(uid);
    if (terminating?.metadata?.uid) uids.add(terminating.metadata.uid);
    const owned: Array<[OwnedObjectApi<V1Service> | OwnedObjectApi<V1Ingress>, V1Service | V1Ingress]> = [];
    for (const [api, cache] of [
      [this.opts.serviceApi, this.opts.services],
      [this.opts.ingressApi, this.opts.ingresses],
    ] as const) {
      const obj = cache.get(namespace, name);
      // Not ours (no managed-by label, or controlled by something other than a Deployment): never touched.
      if (!obj || ownershipOf(obj.metadata, '').kind === 'foreign') continue;
      const ownerUid = controllerReference(obj.metadata)?.uid;
      // A terminating Deployment only takes down what it controls; a gone one leaves nothing to protect.
      if (terminating && ownerUid && ownerUid !== terminating.metadata?.uid) continue;
      if (ownerUid) uids.add(ownerUid);
      owned.push([api, obj]);
    }
    for (const uid of uids) await this.publishDeleted(namespace, name, uid);
    for (const [api, obj] of owned) {
      await this.deleteOwned(api as OwnedObjectApi<V1Service | V1Ingress>, obj, key, terminating ? 'deployment terminating' : 'deployment deleted');
    }
    this.tombstones.delete(key);
    this.reported.delete(`${key}|invalid`);
    this.reported.delete(`${key}|Service`);
    this.reported.delete(`${key}|Ingress`);
    this.reported.delete(`${key}|host`);
    if (this.unpublished.has(key)) {
      // The objects are gone; only the record is missing. Try again later, not in a hot loop.
      return { kind: 'requeueAfter', delayMs: UNPUBLISHED_RETRY_MS };
    }
    return DONE;
  }

  /** Publishes deployment.deleted and waits for the ack; remembers the uid for a later try when NATS cannot take it. */
  private async publishDeleted(namespace: string, name: string, uid: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const result = await this.opts.events.publish(
      'deployment.deleted',
      { uid, namespace, name, deletedAt: new Date(this.clock.now()).toISOString() },
      { msgId: uid },
    );
    const pending = this.unpublished.get(key);
    if (result.ok) {
      pending?.delete(uid);
      if (pending?.size === 0) this.unpublished.delete(key);
      return;
    }
    // Cleanup does not wait for NATS: the other controllers then decide from the live API alone.
    this.opts.log.warn({ key, uid }, 'deployment.deleted not published (NATS unavailable); continuing, will publish it later');
    if (pending) pending.add(uid);
    else this.unpublished.set(key, new Set([uid]));
  }


  private async deleteOwned<T extends V1Service | V1Ingress>(api: OwnedObjectApi<T>, obj: T, key: string, why: string): Promise<void> {
    const uid = obj.metadata?.uid;
    if (!uid) return;
    const started = this.clock.now();
    try {
      await api.delete(obj.metadata!.namespace!, obj.metadata!.name!, uid);
      this.opts.metrics.objectWritten(api.metricKind, 'delete');
      this.opts.log.info({ key, kind: api.kind, action: 'delete', why, durationMs: this.clock.now() - started }, `${api.metricKind} deleted`);
    } catch (err) {
      // Gone already (the garbage collector is often first), or replaced: nothing of ours to delete.
      if (isNotFound(err) || isConflict(err)) return;
      this.opts.log.warn({ key, kind: api.kind, err: describeError(err) }, 'delete failed');
      throw err;
    }
  }

  /** True the first time this fingerprint is seen for key|topic. */
  private firstReport(key: string, topic: string, fingerprint: string): boolean {
    const k = `${key}|${topic}`;
    if (this.reported.get(k) === fingerprint) return false;
    this.reported.set(k, fingerprint);
    return true;
  }
}
