// The payloads of every subject, checked on publish and on receipt. Version 1
// of the wire format: additive changes (a new optional field) keep `v: 1` and
// old readers ignore the field; anything else is a new `v` and a new subject
// prefix (`ekspose.v2.>`).
import { z } from 'zod';
import { isDns1123Label, isDns1123Subdomain } from '@ekspose/labels';
import { isEventKind, parseSubject } from './subjects';
import type { EventKind } from './subjects';

// Kubernetes' own rules for the names ekspose writes into events, as the label contract checks them.
const version = z.literal(1);
const namespace = z.string().refine(isDns1123Label, 'must be a DNS-1123 label');
const objectName = z.string().refine(isDns1123Subdomain, 'must be a DNS-1123 subdomain');
const uid = z.string().min(1).max(128);
const timestamp = z.iso.datetime({ offset: true });
const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).max(253);
const urlPath = z.string().startsWith('/', 'must be an absolute path');

export const deploymentDeletedSchema = z.object({
  v: version,
  uid,
  namespace,
  name: objectName,
  deletedAt: timestamp,
});

export const deploymentExposedSchema = z.object({
  v: version,
  uid,
  namespace,
  name: objectName,
  service: z.object({ name: objectName, port }),
  ingress: z.object({ name: objectName, host, path: urlPath }).nullable(),
  /** Added in v1 (optional: older records have none): a Gateway API HTTPRoute made instead of an Ingress. */
  httproute: z.object({ name: objectName, host, path: urlPath }).nullable().optional(),
  at: timestamp,
});

export const serviceRecreatedSchema = z.object({
  v: version,
  deploymentUid: uid,
  namespace,
  name: objectName,
  /** The uid of the Service just created. */
  serviceUid: uid,
  at: timestamp,
});

export const ingressRecreatedSchema = z.object({
  v: version,
  deploymentUid: uid,
  namespace,
  name: objectName,
  ingressUid: uid,
  host,
  at: timestamp,
});

export const httpRouteRecreatedSchema = z.object({
  v: version,
  deploymentUid: uid,
  namespace,
  name: objectName,
  httprouteUid: uid,
  host,
  at: timestamp,
});

export type DeploymentDeleted = z.infer<typeof deploymentDeletedSchema>;
export type DeploymentExposed = z.infer<typeof deploymentExposedSchema>;
export type ServiceRecreated = z.infer<typeof serviceRecreatedSchema>;
export type IngressRecreated = z.infer<typeof ingressRecreatedSchema>;
export type HttpRouteRecreated = z.infer<typeof httpRouteRecreatedSchema>;

export const EVENT_SCHEMAS = {
  'deployment.deleted': deploymentDeletedSchema,
  'deployment.exposed': deploymentExposedSchema,
  'service.recreated': serviceRecreatedSchema,
  'ingress.recreated': ingressRecreatedSchema,
  'httproute.recreated': httpRouteRecreatedSchema,
} as const satisfies Record<EventKind, z.ZodType>;

export interface EventPayloads {
  'deployment.deleted': DeploymentDeleted;
  'deployment.exposed': DeploymentExposed;
  'service.recreated': ServiceRecreated;
  'ingress.recreated': IngressRecreated;
  'httproute.recreated': HttpRouteRecreated;
}
export type EventPayload<K extends EventKind> = EventPayloads[K];
/** What a publisher passes: the payload, with the version filled in when omitted. */
export type EventInput<K extends EventKind> = Omit<EventPayloads[K], 'v'> & { v?: 1 };

/** A payload that breaks its schema on publish: a bug in the caller, not a runtime condition. */
export class InvalidEventError extends Error {
  readonly kind: EventKind;
  constructor(kind: EventKind, problems: string) {
    super(`invalid ${kind} payload: ${problems}`);
    this.name = 'InvalidEventError';
    this.kind = kind;
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Validates a payload for publishing; throws InvalidEventError. */
export function validateEvent<K extends EventKind>(kind: K, input: EventInput<K>): EventPayload<K> {
  if (!isEventKind(kind)) throw new Error(`unknown event kind ${String(kind)}`);
  const result = EVENT_SCHEMAS[kind].safeParse({ ...input, v: input.v ?? 1 });
  if (!result.success) throw new InvalidEventError(kind, describeIssues(result.error));
  return result.data as EventPayload<K>;
}

export type DecodeResult<K extends EventKind> = { ok: true; event: EventPayload<K> } | { ok: false; reason: string };

/**
 * Reads a received message of the expected kind: the subject must be one
 * subjectFor produces, for that kind, naming the same namespace/name as the
 * payload, and the payload must be JSON matching the schema.
 */
export function decodeEvent<K extends EventKind>(kind: K, subject: string, data: Uint8Array): DecodeResult<K> {
  const parsed = parseSubject(subject);
  if (!parsed) return { ok: false, reason: 'unknown subject' };
  if (parsed.kind !== kind) return { ok: false, reason: `subject is for ${parsed.kind}, expected ${kind}` };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  const result = EVENT_SCHEMAS[kind].safeParse(json);
  if (!result.success) return { ok: false, reason: `payload fails the schema: ${describeIssues(result.error)}` };
  const event = result.data as EventPayload<K>;
  if (event.namespace !== parsed.namespace || event.name !== parsed.name) {
    return { ok: false, reason: `payload names ${event.namespace}/${event.name} but the subject ${parsed.namespace}/${parsed.name}` };
  }
  return { ok: true, event };
}
