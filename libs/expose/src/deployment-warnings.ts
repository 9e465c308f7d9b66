// The Warnings the deployment-controller gives a Deployment: each with its
// Event reason, log line and metric, each told once per fingerprint (a resync
// repeats none; a change by the user, or another conflicting object, tells it
// again), and forgotten once the condition is over.
import type { V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type EventRecorder, describeError, statusCodeOf } from '@ekspose/k8s';
import { type Problem, describeProblems } from '@ekspose/labels';
import { ExposeReason, exposedMessage } from './event-reasons';
import type { ExposeMetrics } from './expose-metrics';
import type { HostClaim } from './host-conflict';
import { involved } from './involved';
import type { OwnedKind, OwnedObject } from './kind-descriptors';
import { type WarningTopic, WarningLedger, userRevision } from './warning-ledger';

export interface DeploymentWarningsOptions {
  recorder: Pick<EventRecorder, 'warning' | 'normal'>;
  exposeMetrics: ExposeMetrics;
  log: Logger;
}

/** An answer from the API server (not a transport failure) that retrying alone will not change. */
export function isRefusal(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code !== undefined && code >= 400 && ![404, 409, 429, 503, 504].includes(code);
}

export class DeploymentWarnings {
  private readonly ledger = new WarningLedger();

  constructor(private readonly opts: DeploymentWarningsOptions) {
    opts.exposeMetrics.countInvalid(() => this.ledger.count('invalid'));
  }

  /** Invalid labels or annotations: nothing is written until the user changes the Deployment. */
  async invalid(key: string, dep: V1Deployment, problems: Problem[]): Promise<void> {
    const message = `not exposed: ${describeProblems(problems)}`;
    if (!this.ledger.firstReport(key, 'invalid', `${userRevision(dep)}/${message}`)) return;
    for (const p of problems) this.opts.exposeMetrics.invalidSpec(p.key);
    this.opts.log.warn({ key, problems }, 'invalid exposure settings; nothing written');
    this.opts.recorder.warning(involved(dep), ExposeReason.InvalidSpec, message);
  }

  /** An object of the name that ekspose does not own: never touched. */
  async foreign<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>, live: T, reason: string): Promise<void> {
    const message = `${kind.kind} ${dep.metadata?.namespace}/${dep.metadata?.name} exists and is not managed by ekspose (${reason}); leaving it untouched`;
    this.opts.exposeMetrics.conflict(kind.metricKind);
    if (!this.ledger.firstReport(key, kind.kind, `${dep.metadata?.uid}/${live.metadata?.uid}/${message}`)) return;
    this.opts.log.warn({ key, kind: kind.kind, reason }, 'conflicting object not owned by ekspose');
    this.opts.recorder.warning(involved(dep), kind.reasons.conflict, message);
  }

  /** An older object holds the host and path: this Deployment gets none until it is freed. */
  async hostHeld<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>, holder: HostClaim): Promise<void> {
    const message = `host ${holder.host}${holder.path} is already served by the older ${holder.kind} ${holder.namespace}/${holder.name}; no ${kind.kind} for this Deployment`;
    this.opts.exposeMetrics.conflict('host');
    if (!this.ledger.firstReport(key, 'host', `${dep.metadata?.uid}/${message}`)) return;
    this.opts.log.warn({ key, host: holder.host, holder: `${holder.namespace}/${holder.name}` }, 'host conflict');
    this.opts.recorder.warning(involved(dep), ExposeReason.HostConflict, message);
  }

  /**
   * The API server refused a write the user has to act on (a quota, an
   * exhausted IP range, an admission webhook, an invalid object): the server's
   * message on the Deployment. Other errors say nothing here; the queue retries.
   */
  async refused<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>, err: unknown): Promise<void> {
    if (!isRefusal(err)) return;
    const message = `${kind.kind} ${dep.metadata?.name} was refused by the API server: ${describeError(err)}`;
    this.opts.exposeMetrics.refused(kind.metricKind);
    if (!this.ledger.firstReport(key, `${kind.kind}-refused`, `${dep.metadata?.uid}/${message}`)) return;
    this.opts.log.warn({ key, kind: kind.kind, err: describeError(err) }, 'write refused by the API server');
    this.opts.recorder.warning(involved(dep), kind.reasons.refused, message);
  }

  /** The Deployment asks for a kind the API server does not serve (the Gateway API CRDs are not installed). */
  async unavailable<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>): Promise<void> {
    const message = `${kind.kind} ${dep.metadata?.name} cannot be made: the API server does not serve ${kind.unavailableHint ?? kind.kind}; it is made once that is installed`;
    if (!this.ledger.firstReport(key, `${kind.kind}-unavailable`, `${dep.metadata?.uid}/${message}`)) return;
    this.opts.log.warn({ key, kind: kind.kind }, 'kind not served by the API server');
    this.opts.recorder.warning(involved(dep), kind.reasons.unavailable ?? kind.reasons.refused, message);
  }

  /** The object's own controller reports a problem in its status (a Gateway not accepting the route). */
  async statusProblem<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>, problem: { reason: ExposeReason; message: string }): Promise<void> {
    if (!this.ledger.firstReport(key, `${kind.kind}-status`, `${dep.metadata?.uid}/${problem.message}`)) return;
    this.opts.log.warn({ key, kind: kind.kind, problem: problem.message }, 'not accepted by its controller');
    this.opts.recorder.warning(involved(dep), problem.reason, problem.message);
  }

  /** The URL the Deployment is reachable at, told once per change of it (a resync repeats nothing). */
  async exposed<T extends OwnedObject>(key: string, dep: V1Deployment, kind: OwnedKind<T>, url: string): Promise<void> {
    if (!this.ledger.firstReport(key, 'exposed', `${dep.metadata?.uid}/${kind.kind}/${url}`)) return;
    this.opts.recorder.normal(involved(dep), ExposeReason.Exposed, exposedMessage(url, kind.kind, dep.metadata?.name ?? ''));
  }

  /** The condition is over: the next occurrence is told again. */
  clear(key: string, topic: WarningTopic): void {
    this.ledger.clear(key, topic);
  }

  /** The Deployment is gone. */
  forget(key: string): void {
    this.ledger.forget(key);
  }

  /** This replica stopped leading, or let the keys `gone` says go with their shard range. */
  reset(gone?: (key: string) => boolean): void {
    this.ledger.reset(gone);
  }

  /** Deployments with a Warning remembered. */
  get size(): number {
    return this.ledger.size;
  }
}
