// What the reconcilers need from the event bus, stated here so libs/k8s does
// not depend on libs/events; the apps pass the real EventBus (or an adapter).
export type PublishKind = 'deployment.deleted' | 'deployment.exposed' | 'service.recreated' | 'ingress.recreated';
export type DeletionRecord = 'deleted' | 'not-deleted' | 'unknown';

export interface EventSink {
  /** Resolves once JetStream acked, or with ok:false (NATS down, timeout); never throws for NATS being down. */
  publish(kind: PublishKind, payload: Record<string, unknown>, opts?: { msgId?: string }): Promise<{ ok: boolean }>;
  /** 'unknown' when NATS cannot be asked right now: the caller decides from the live API alone. */
  wasDeploymentDeleted(namespace: string, name: string, uid: string): Promise<DeletionRecord>;
}
