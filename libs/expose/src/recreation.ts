// The service- and ingress-controllers' one question (docs/design.md §3.4-3.6): a
// managed object of ns/name was deleted — should ns/name have one now?
// Yes only if the Deployment exists live, is not terminating, has no
// deployment.deleted record for its uid, and (still) wants the object.
// Otherwise the deletion was a cascade and is left alone. Pure.
import type { ExposeSpec, ParseResult } from '@ekspose/labels';
import type { DeletionAnswer, ExposureAnswer } from '@ekspose/events';

export interface RecreationInput {
  /** From a live GET; undefined = 404. */
  deployment: { uid?: string; terminating: boolean } | undefined;
  parsed: ParseResult | undefined;
  record: DeletionAnswer;
  /** Whether the parsed spec wants this kind of object (an Ingress needs ingReq). */
  wants: (spec: ExposeSpec) => boolean;
}

export type RecreationDecision =
  | { recreate: true; spec: ExposeSpec; natsConsulted: boolean }
  | { recreate: false; reason: string };

export function decideRecreation(input: RecreationInput): RecreationDecision {
  const { deployment, parsed, record } = input;
  if (!deployment) return { recreate: false, reason: 'the Deployment no longer exists' };
  if (deployment.terminating) return { recreate: false, reason: 'the Deployment is being deleted' };
  if (record === 'deleted') return { recreate: false, reason: `a deployment.deleted record exists for uid ${deployment.uid}` };
  if (!parsed) return { recreate: false, reason: 'the Deployment could not be read' };
  if (parsed.kind === 'ignored') return { recreate: false, reason: `the Deployment is ignored (${parsed.reason})` };
  if (parsed.kind === 'invalid') return { recreate: false, reason: 'the Deployment has invalid exposure settings' };
  if (!input.wants(parsed.spec)) return { recreate: false, reason: 'the Deployment no longer asks for it' };
  return { recreate: true, spec: parsed.spec, natsConsulted: record !== 'unknown' };
}

/** Why a recreate controller believes a missing object existed before. */
export type DeletionEvidence =
  /** Its watch saw the object deleted. */
  | 'watched-deletion'
  /** A deployment.exposed record says ekspose made it for this Deployment uid. */
  | 'exposed-record'
  /** The record says it was never made: it is simply missing. */
  | 'none'
  /** NATS could not be asked: nothing proves it existed. */
  | 'nats-unavailable';

/**
 * Only evidence makes a creation a recreation (Event ...Recreated, the
 * recreation metric); without it, the object is reported as created because it
 * was missing. Pure.
 */
export function deletionEvidence(witnessed: boolean, exposure: ExposureAnswer | undefined): DeletionEvidence {
  if (witnessed) return 'watched-deletion';
  if (exposure === 'exposed') return 'exposed-record';
  return exposure === 'unknown' || exposure === undefined ? 'nats-unavailable' : 'none';
}

export function isEvidenceOfDeletion(evidence: DeletionEvidence): boolean {
  return evidence === 'watched-deletion' || evidence === 'exposed-record';
}
