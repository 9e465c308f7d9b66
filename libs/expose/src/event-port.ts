// What ekspose's reconcilers need of the event bus, typed by the zod event map:
// a misspelt payload field fails typecheck. Tests pass a fake of this shape.
import type { Logger } from 'pino';
import type { EventBus, EventInput, EventKind } from '@ekspose/events';
import type { ExposeSpec } from '@ekspose/labels';

export type ExposeEvents = Pick<EventBus, 'publish' | 'wasDeploymentDeleted' | 'wasExposed'>;

/**
 * Publishes without waiting: for events that only inform (nothing depends on
 * their ack). Never rejects: an invalid payload is logged as the bug it is.
 */
export function announce<K extends EventKind>(events: ExposeEvents, log: Logger, kind: K, payload: EventInput<K>): void {
  events.publish(kind, payload).catch((err: unknown) => {
    log.error({ kind, error: err instanceof Error ? err.message : String(err) }, 'event not published: invalid payload');
  });
}

/**
 * The deployment.exposed record: the Service, and the Ingress only when one of
 * ours exists (none when its host or name is taken by another object). The
 * recreate controllers read it as evidence that an object was made.
 */
export function exposedRecord(spec: ExposeSpec, exists: (kind: 'ingress' | 'httproute') => boolean, nowMs: number): EventInput<'deployment.exposed'> {
  const route = (kind: 'ingress' | 'httproute') =>
    spec.ingress?.routeKind === kind && exists(kind) ? { name: spec.name, host: spec.ingress.host, path: spec.ingress.path } : null;
  return {
    uid: spec.uid,
    namespace: spec.namespace,
    name: spec.name,
    service: { name: spec.name, port: spec.port },
    ingress: route('ingress'),
    httproute: route('httproute'),
    at: new Date(nowMs).toISOString(),
  };
}
