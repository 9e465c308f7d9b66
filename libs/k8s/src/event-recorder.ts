// Kubernetes Events on the objects a controller acts for (what `kubectl
// describe` shows). Best effort, like client-go's recorder: a
// failure to record is logged, never fails a reconcile. A repeat of the same
// event bumps the count of the existing one instead of creating another.
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Clock, realClock } from './clock';
import { describeError, isNotFound } from './api-errors';
import { mergePatchOptions } from './kube-client';
import { LruCache } from './lru-cache';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about; `apiVersion` and `kind` default to a Deployment's. */
export interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

/** A CamelCase reason, e.g. `InvalidSpec`; the product keeps its list of reasons. */
export type EventReason = string;

export interface EventRecorderOptions {
  core: Pick<CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  /** e.g. `ekspose-deployment-controller`. */
  component: string;
  /** This replica, e.g. the Pod name. */
  instance: string;
  log: Logger;
  clock?: Clock;
  /** How many distinct events to remember for aggregation. */
  cacheSize?: number;
  onWrite?: (action: 'create' | 'patch') => void;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

/** Event object names must be unique; same scheme as client-go (`<obj>.<hex time>`). */
export function eventName(objectName: string, nowMs: number, random: () => number = Math.random): string {
  const suffix = (BigInt(nowMs) * 1_000_000n + BigInt(Math.floor(random() * 1_000_000))).toString(16);
  return `${objectName}.${suffix}`;
}

export class EventRecorder {
  private readonly seen: LruCache<Seen>;
  private readonly clock: Clock;

  constructor(private readonly opts: EventRecorderOptions) {
    this.clock = opts.clock ?? realClock;
    this.seen = new LruCache({ capacity: opts.cacheSize ?? 4096 });
  }

  warning(obj: InvolvedObject, reason: EventReason, message: string): Promise<void> {
    return this.record(obj, 'Warning', reason, message);
  }

  normal(obj: InvolvedObject, reason: EventReason, message: string): Promise<void> {
    return this.record(obj, 'Normal', reason, message);
  }

  async record(obj: InvolvedObject, type: EventType, reason: EventReason, message: string): Promise<void> {
    const msg = message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
    const key = `${obj.uid}\u0000${type}\u0000${reason}\u0000${msg}`;
    const now = new Date(this.clock.now());
    const previous = this.seen.get(key);
    try {
      if (previous) {
        previous.count++;
        try {
          await this.opts.core.patchNamespacedEvent(
            {
              name: previous.name,
              namespace: previous.namespace,
              body: { count: previous.count, lastTimestamp: now.toISOString() },
            },
            mergePatchOptions(),
          );
          this.opts.onWrite?.('patch');
          this.remember(key, previous);
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          // The Event expired (events have a TTL): create a fresh one.
        }
      }
      const body: CoreV1Event = {
        metadata: { name: eventName(obj.name, now.getTime()), namespace: obj.namespace },
        involvedObject: {
          apiVersion: obj.apiVersion ?? 'apps/v1',
          kind: obj.kind ?? 'Deployment',
          name: obj.name,
          namespace: obj.namespace,
          uid: obj.uid,
          resourceVersion: obj.resourceVersion,
        },
        type,
        reason,
        message: msg,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.opts.component },
        reportingComponent: this.opts.component,
        reportingInstance: this.opts.instance,
      };
      const created = await this.opts.core.createNamespacedEvent({ namespace: obj.namespace, body });
      this.opts.onWrite?.('create');
      this.remember(key, { name: created.metadata?.name ?? body.metadata.name!, namespace: obj.namespace, count: 1 });
    } catch (err) {
      this.opts.log.warn({ err: describeError(err), reason, deployment: `${obj.namespace}/${obj.name}` }, 'could not record event');
    }
  }

  private remember(key: string, seen: Seen): void {
    this.seen.set(key, seen);
  }
}

/** The recorder every controller uses: component `ekspose-<controller>`, writes counted. */
export function controllerEventRecorder(opts: {
  core: EventRecorderOptions['core'];
  controller: string;
  identity: string;
  log: Logger;
  metrics: { objectWritten(kind: 'event', action: 'create' | 'patch'): void };
}): EventRecorder {
  return new EventRecorder({
    core: opts.core,
    component: `ekspose-${opts.controller}`,
    instance: opts.identity,
    log: opts.log,
    onWrite: (action) => opts.metrics.objectWritten('event', action),
  });
}
