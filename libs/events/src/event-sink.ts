// The reconcilers (libs/k8s) depend on a small structural interface, not on
// this lib. This adapter gives them the bus in that shape, and turns a
// payload that fails its schema into a logged ok:false rather than an
// unhandled rejection in a fire-and-forget publish.
import type { Logger } from 'pino';
import type { DeletionAnswer, EventBus, PublishResult } from './event-bus';
import type { EventInput } from './schemas';
import type { EventKind } from './subjects';

export interface EventSinkAdapter {
  publish(kind: EventKind, payload: Record<string, unknown>, opts?: { msgId?: string }): Promise<PublishResult>;
  wasDeploymentDeleted(namespace: string, name: string, uid: string): Promise<DeletionAnswer>;
}

export function eventSinkFor(bus: EventBus, log: Logger): EventSinkAdapter {
  return {
    async publish(kind, payload, opts) {
      try {
        return await bus.publish(kind, payload as EventInput<typeof kind>, opts);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.error({ kind, error }, 'event not published: invalid payload');
        return { ok: false, error };
      }
    },
    wasDeploymentDeleted: (namespace, name, uid) => bus.wasDeploymentDeleted(namespace, name, uid),
  };
}
