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
//
// Events yield to objects (`yieldTo`, the controller's work queue): while it
// has work, Normal Events (Exposed, ServiceCreated…) are held, one per object
// and reason (HeldEvents), because in a burst each is one more write on an API
// server that is then the bottleneck, for something no one waits on. Once the
// queue has been idle for `quietMs` they go out, paced by a token bucket, and
// stop again the moment it has work, so a following burst waits for at most
// the writes already in flight. One held longer than `overdueMs` goes out even
// during a burst, slowly (`busyQps`), so a queue that never idles still tells.
// Warnings are never held: they say something is wrong. On shutdown, close()
// sends what is held within its bound and counts the rest as dropped.
import { type EventsV1Event, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Clock, type TimerHandle, realClock } from '../base/clock';
import { describeError, isNotFound } from '../api/api-errors';
import { mergePatchOptions } from '../api/kube-client';
import { LruCache } from '../base/lru-cache';
import { YieldPacer } from './yield-pacer';
import type { ControllerMetrics } from '../metrics/metrics';
import { HeldEvents } from './held-events';
import { EVENT_PACING_DEFAULTS, type EventType, type InvolvedObject, type EventReason, type EventRecorderOptions, type BusySignal, type DropReason, type EventPacing } from './event-contract';
export { EVENT_PACING_DEFAULTS, type EventType, type InvolvedObject, type EventReason, type EventRecorderOptions, type BusySignal, type DropReason, type EventPacing } from './event-contract';

interface Job {
  key: string;
  obj: InvolvedObject;
  type: EventType;
  reason: EventReason;
  message: string;
  at: number;
  /** Occurrences it stands for (a held Event told again while held): 2 or more is written as a series from `first`. */
  count: number;
  first: number;
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
  /** Whether an Event about this object may be recorded now (EventRecorderOptions.admit). */
  admit: (obj: InvolvedObject) => boolean;
  private readonly seen: LruCache<Seen>;
  private readonly clock: Clock;
  private readonly queue: Job[] = [];
  /** Keys with a write in flight: the next write of the same event waits, to find the first and patch its count. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private dropped = 0;
  private idle: Array<() => void> = [];
  private readonly held = new HeldEvents();
  private readonly pacing: EventPacing;
  private readonly pacer: YieldPacer;
  private wake: TimerHandle | undefined;
  /** flush() or close() waiting: held Events go without pacing. */
  private draining = 0;
  private closing = false;
  /** close() gave up: nothing more is written. */
  private closed = false;

  constructor(private readonly opts: EventRecorderOptions) {
    this.clock = opts.clock ?? realClock;
    this.admit = opts.admit ?? (() => true);
    this.seen = new LruCache({ capacity: opts.cacheSize ?? 4096 });
    this.pacing = { ...EVENT_PACING_DEFAULTS, ...opts.pacing };
    this.pacer = new YieldPacer(this.pacing, () => this.clock.now(), opts.yieldTo, () => this.release());
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
    if (this.closed) return;
    const msg = message.length > 1024 ? `${message.slice(0, 1021)}...` : message;
    if (type === 'Normal' && this.opts.yieldTo) {
      if (this.held.size >= this.pacing.maxHeld && !this.held.has(obj, reason)) {
        this.drop('hold-limit', 1, { reason, deployment: `${obj.namespace}/${obj.name}` });
        return;
      }
      this.held.hold(obj, reason, msg, this.clock.now());
      this.pendingChanged();
      this.release();
      return;
    }
    if (this.queue.length >= (this.opts.maxQueued ?? 1000)) {
      this.drop('queue-full', 1, { reason, deployment: `${obj.namespace}/${obj.name}` });
      return;
    }
    const now = this.clock.now();
    this.enqueue({ obj, type, reason, message: msg, at: now, first: now, count: 1 });
    this.pump();
  }

  /** Events recorded and not yet written: held, queued or being written. */
  get pending(): number {
    return this.held.size + this.queue.length + this.inFlight;
  }

  /** Normal Events held back until the work queue is quiet. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Resolves once every Event recorded so far is written (or failed), held ones too, unpaced; on shutdown, use close(). */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    this.draining++;
    const done = new Promise<void>((resolve) => this.idle.push(resolve)).finally(() => this.draining--);
    this.release();
    return done;
  }

  /**
   * Shutdown: sends everything recorded (held Events too, `closeInFlight` at
   * once) and resolves when it is written or after timeoutMs; what is left
   * then is dropped, logged with its count and counted (why: shutdown).
   */
  async close(opts: { timeoutMs: number }): Promise<void> {
    this.closing = true;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(true), opts.timeoutMs)));
    const gaveUp = await Promise.race([this.flush().then(() => false), timedOut]);
    if (timer) this.clock.clearTimeout(timer);
    if (!gaveUp) return;
    this.closed = true;
    if (this.wake) this.clock.clearTimeout(this.wake);
    // What is in flight may still land; what waits is not sent.
    const left = this.held.clear() + this.queue.splice(0).length;
    this.pendingChanged();
    this.opts.log.warn({ dropped: left, inFlight: this.inFlight, timeoutMs: opts.timeoutMs }, 'events not written before shutdown; dropped');
    if (left > 0) this.opts.onDropped?.('shutdown', left);
  }

  private enqueue(job: Omit<Job, 'key'>): void {
    this.queue.push({ ...job, key: `${job.obj.uid}\u0000${job.type}\u0000${job.reason}\u0000${job.message}` });
    this.pendingChanged();
  }

  private drop(why: DropReason, count: number, context: Record<string, unknown>): void {
    this.opts.onDropped?.(why, count);
    // One line per power of two dropped: a storm is visible without flooding the log.
    if ((++this.dropped & (this.dropped - 1)) === 0) {
      this.opts.log.warn({ dropped: this.dropped, why, ...context }, why === 'queue-full' ? 'event queue full; dropping events' : 'too many events held; dropping events');
    }
  }

  private pendingChanged(): void {
    this.opts.onPending?.(this.pending);
  }

  private get maxInFlight(): number {
    const max = this.opts.maxInFlight ?? 2;
    return this.closing ? Math.max(max, this.pacing.closeInFlight) : max;
  }

  /**
   * Moves held Events to the write queue as far as the pacing allows (a write
   * slot free, the queue quiet and a token there, or one overdue), and sets a
   * timer for when the next may go.
   */
  private release(): void {
    if (this.wake) {
      this.clock.clearTimeout(this.wake);
      this.wake = undefined;
    }
    while (this.held.size > 0 && !this.closed && this.inFlight + this.queue.length < this.maxInFlight) {
      const wait = this.draining > 0 ? 0 : this.waitForNext();
      if (wait > 0) {
        this.wake = this.clock.setTimeout(() => {
          this.wake = undefined;
          this.release();
        }, wait);
        break;
      }
      const next = this.held.shift()!;
      this.enqueue({ obj: next.obj, type: 'Normal', reason: next.reason, message: next.message, at: next.at, first: next.first, count: next.count });
    }
    this.pump();
  }

  /** How long until the next held Event may go (0: now, and its token is taken). Pure pacing: see EventPacing. */
  private waitForNext(): number {
    return this.pacer.waitForNext(this.held.oldest()!.since);
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && !this.closed) {
      const next = this.queue.findIndex((job) => !this.busy.has(job.key));
      if (next === -1) break;
      const [job] = this.queue.splice(next, 1) as [Job];
      this.inFlight++;
      this.busy.add(job.key);
      void this.write(job).finally(() => {
        this.inFlight--;
        this.busy.delete(job.key);
        this.release();
        this.pendingChanged();
        if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async write({ key, obj, type, reason, message: msg, at, first, count }: Job): Promise<void> {
    // When it happened, not when the queue got to it.
    const now = new V1MicroTime(at);
    const previous = this.seen.get(key);
    try {
      if (previous) {
        previous.count += count;
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
        eventTime: count >= 2 ? new V1MicroTime(first) : now,
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
        // Told again while held: one Event that says how often (the API server wants a series only from 2).
        ...(count >= 2 ? { series: { count, lastObservedTime: now } } : {}),
      };
      const created = await this.opts.events.createNamespacedEvent({ namespace: obj.namespace, body });
      this.opts.onWrite?.('create');
      this.remember(key, { name: created.metadata?.name ?? body.metadata!.name!, namespace: obj.namespace, count });
    } catch (err) {
      this.opts.log.warn({ err: describeError(err), reason, deployment: `${obj.namespace}/${obj.name}` }, 'could not record event');
    }
  }

  private remember(key: string, seen: Seen): void {
    this.seen.set(key, seen);
  }
}

/** The recorder every controller uses: component `ekspose-<controller>`, writes, pending and dropped Events counted; Normal Events yield to `yieldTo` (its work queue). */
export function controllerEventRecorder(opts: {
  events: EventRecorderOptions['events'];
  controller: string;
  identity: string;
  log: Logger;
  metrics: Pick<ControllerMetrics, 'objectWritten' | 'setEventsPending' | 'eventsDropped'>;
  actionOf?: EventRecorderOptions['actionOf'];
  yieldTo?: BusySignal;
  admit?: EventRecorderOptions['admit'];
}): EventRecorder {
  return new EventRecorder({
    events: opts.events,
    actionOf: opts.actionOf,
    component: `ekspose-${opts.controller}`,
    instance: opts.identity,
    log: opts.log,
    onWrite: (action) => opts.metrics.objectWritten('event', action),
    onPending: (pending) => opts.metrics.setEventsPending(pending),
    onDropped: (why, count) => opts.metrics.eventsDropped(why, count),
    ...(opts.yieldTo ? { yieldTo: opts.yieldTo } : {}),
    ...(opts.admit ? { admit: opts.admit } : {}),
  });
}
