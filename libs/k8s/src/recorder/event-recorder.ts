// Kubernetes Events on the objects a controller acts for (what `kubectl
// describe` and `kubectl events` show), written through events.k8s.io/v1 as
// client-go's events package and controller-runtime do: `regarding`, `note`,
// `action`, `reportingController`/`reportingInstance`, and a `series` for
// repeats. Best effort and asynchronous, like client-go's recorder:
// recording queues the Event and returns, so a reconcile never waits for it
// (an Event is a write of its own, and a worker blocked on it would not be
// writing the objects); a few writers send the queue, a failure is logged, and
// a full queue drops the newest Event with a warning. A repeat of the same
// event patches the series (count, last observed) of the existing one instead
// of creating another; the writes of one event are never sent concurrently, so
// a repeat finds the first.
import { type EventsV1Api, type EventsV1Event, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Clock, realClock } from '../base/clock';
import { describeError, isNotFound } from '../api/api-errors';
import { mergePatchOptions } from '../api/kube-client';
import { LruCache } from '../base/lru-cache';

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
  events: Pick<EventsV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  /** `reportingController`, e.g. `ekspose-deployment-controller`. */
  component: string;
  /** `reportingInstance`: this replica, e.g. the Pod name. */
  instance: string;
  /** The Event's `action` (what was done or failed) for a reason; required by events.k8s.io/v1. Default: the reason. */
  actionOf?: (reason: EventReason) => string;
  log: Logger;
  clock?: Clock;
  /** How many distinct events to remember for aggregation. */
  cacheSize?: number;
  onWrite?: (action: 'create' | 'patch') => void;
  /** Event writes in flight at once. Default 2. */
  maxInFlight?: number;
  /** Events waiting beyond those; more are dropped (and logged). Default 1000. */
  maxQueued?: number;
}

interface Job {
  key: string;
  obj: InvolvedObject;
  type: EventType;
  reason: EventReason;
  message: string;
  at: number;
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
  /** Whether an Event about this object may be recorded now (with shards: its namespace's range is held). */
  admit: (obj: InvolvedObject) => boolean = () => true;
  private readonly seen: LruCache<Seen>;
  private readonly clock: Clock;
  private readonly queue: Job[] = [];
  /** Keys with a write in flight: the next write of the same event waits, to find the first and patch its count. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private dropped = 0;
  private idle: Array<() => void> = [];

  constructor(private readonly opts: EventRecorderOptions) {
    this.clock = opts.clock ?? realClock;
    this.seen = new LruCache({ capacity: opts.cacheSize ?? 4096 });
  }

  warning(obj: InvolvedObject, reason: EventReason, message: string): void {
    this.record(obj, 'Warning', reason, message);
  }

  normal(obj: InvolvedObject, reason: EventReason, message: string): void {
    this.record(obj, 'Normal', reason, message);
  }

  /** Queues the Event and returns; {@link flush} waits until everything queued is written. */
  record(obj: InvolvedObject, type: EventType, reason: EventReason, message: string): void {
    // With shards: a replica tells only of namespaces it holds, as it writes only for them.
    if (!this.admit(obj)) {
      this.opts.log.debug({ reason, deployment: `${obj.namespace}/${obj.name}` }, 'event not recorded: its namespace is not served here');
      return;
    }
    const msg = message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
    if (this.queue.length >= (this.opts.maxQueued ?? 1000)) {
      // One line per power of two dropped: a storm is visible without flooding the log.
      if ((++this.dropped & (this.dropped - 1)) === 0) {
        this.opts.log.warn({ dropped: this.dropped, reason, deployment: `${obj.namespace}/${obj.name}` }, 'event queue full; dropping events');
      }
      return;
    }
    this.queue.push({ key: `${obj.uid}\u0000${type}\u0000${reason}\u0000${msg}`, obj, type, reason, message: msg, at: this.clock.now() });
    this.pump();
  }

  /** Events queued or being written. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves once every Event recorded so far is written (or failed); on shutdown, bound it. */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < (this.opts.maxInFlight ?? 2)) {
      const next = this.queue.findIndex((job) => !this.busy.has(job.key));
      if (next === -1) break;
      const [job] = this.queue.splice(next, 1) as [Job];
      this.inFlight++;
      this.busy.add(job.key);
      void this.write(job).finally(() => {
        this.inFlight--;
        this.busy.delete(job.key);
        this.pump();
        if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async write({ key, obj, type, reason, message: msg, at }: Job): Promise<void> {
    // When it happened, not when the queue got to it.
    const now = new V1MicroTime(at);
    const previous = this.seen.get(key);
    try {
      if (previous) {
        previous.count++;
        try {
          await this.opts.events.patchNamespacedEvent(
            {
              name: previous.name,
              namespace: previous.namespace,
              body: { series: { count: previous.count, lastObservedTime: now } },
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
      const body: EventsV1Event = {
        metadata: { name: eventName(obj.name, at), namespace: obj.namespace },
        eventTime: now,
        regarding: {
          apiVersion: obj.apiVersion ?? 'apps/v1',
          kind: obj.kind ?? 'Deployment',
          name: obj.name,
          namespace: obj.namespace,
          uid: obj.uid,
          resourceVersion: obj.resourceVersion,
        },
        type,
        reason,
        action: this.opts.actionOf?.(reason) ?? reason,
        note: msg,
        reportingController: this.opts.component,
        reportingInstance: this.opts.instance,
      };
      const created = await this.opts.events.createNamespacedEvent({ namespace: obj.namespace, body });
      this.opts.onWrite?.('create');
      this.remember(key, { name: created.metadata?.name ?? body.metadata!.name!, namespace: obj.namespace, count: 1 });
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
  events: EventRecorderOptions['events'];
  controller: string;
  identity: string;
  log: Logger;
  metrics: { objectWritten(kind: 'event', action: 'create' | 'patch'): void };
  actionOf?: EventRecorderOptions['actionOf'];
}): EventRecorder {
  return new EventRecorder({
    events: opts.events,
    actionOf: opts.actionOf,
    component: `ekspose-${opts.controller}`,
    instance: opts.identity,
    log: opts.log,
    onWrite: (action) => opts.metrics.objectWritten('event', action),
  });
}
