// The deployment.exposed records yield to objects, as the Normal Events do
// (libs/k8s's EventRecorder): the deployment-controller publishes one to
// JetStream for every Deployment it makes objects for, and in a burst each is a
// request, an ack and a file-store write on cores the API server needs for the
// objects themselves. No one waits for them: a recreate controller reads one
// only when it finds an object missing whose deletion it did not watch, to tell
// "recreated" from "created". So while the work queue has work they are held,
// one per Deployment (a newer one takes the older one's place), and once the
// queue has been idle for `quietMs` they go out, paced, and stop again the
// moment it has work; one held longer than `overdueMs` goes even during a
// burst, slowly. Past `maxHeld` a record is published at once; close()
// (shutdown) publishes the ones still held and waits for those going, within a
// bound, before the bus closes, and logs how many it could not. A crash loses
// what is held (before, a record was lost only if it was in flight). Every
// other kind (deployment.deleted above all) passes straight through.
import type { Logger } from 'pino';
import type { EventInput, EventKind, PublishOptions, PublishResult } from '@ekspose/events';
import { type BusySignal, type Clock, type HostedBus, TIMED_OUT, type TimerHandle, type YieldPacing, YieldPacer, realClock, within } from '@ekspose/k8s';
import type { ExposeEvents } from './event-port';

/** The Event recorder's pacing (quiet, qps, burst, overdue, busyQps), and: */
export interface RecordPacing extends YieldPacing {
  /** Publishes in flight at once. */
  inFlight: number;
  /** Held at most; more are published at once, never dropped. */
  maxHeld: number;
  /** What close() (shutdown) may take for the records held and going; the host bounds its whole shutdown at 3 s. */
  closeTimeoutMs: number;
}

export const RECORD_PACING_DEFAULTS: RecordPacing = { quietMs: 500, qps: 500, burst: 50, overdueMs: 60_000, busyQps: 5, inFlight: 16, maxHeld: 50_000, closeTimeoutMs: 1_000 };

interface Held {
  input: EventInput<'deployment.exposed'>;
  options: PublishOptions;
  /** When the first record of this Deployment was held. */
  since: number;
  /** Every publish() this record stands for, answered with its result. */
  answers: Array<{ resolve: (result: PublishResult) => void; reject: (err: unknown) => void }>;
}

export class HeldRecords implements ExposeEvents, HostedBus {
  private readonly held = new Map<string, Held>();
  private readonly pacing: RecordPacing;
  private readonly clock: Clock;
  private readonly pacer: YieldPacer;
  private timer: TimerHandle | undefined;
  /** Publishes under way (at most `inFlight`): close() waits for them before the bus closes. */
  private readonly sending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly opts: {
      bus: ExposeEvents & HostedBus;
      yieldTo: BusySignal;
      log: Logger;
      clock?: Clock;
      pacing?: Partial<RecordPacing>;
    },
  ) {
    this.pacing = { ...RECORD_PACING_DEFAULTS, ...opts.pacing };
    this.clock = opts.clock ?? realClock;
    this.pacer = new YieldPacer(this.pacing, () => this.clock.monotonic(), opts.yieldTo, () => this.pump());
  }

  /** Records held and not yet published. */
  get size(): number {
    return this.held.size;
  }

  publish = <K extends EventKind>(kind: K, input: EventInput<K>, options: PublishOptions = {}): Promise<PublishResult> => {
    if (kind !== 'deployment.exposed' || this.closed || this.held.size >= this.pacing.maxHeld) return this.opts.bus.publish(kind, input, options);
    const record = input as unknown as EventInput<'deployment.exposed'>;
    const key = `${record.namespace}/${record.name}`;
    return new Promise<PublishResult>((resolve, reject) => {
      const older = this.held.get(key);
      // Map.set on a key already there keeps its place in line: the line is by first hold.
      this.held.set(key, { input: record, options, since: older?.since ?? this.clock.monotonic(), answers: [...(older?.answers ?? []), { resolve, reject }] });
      this.pump();
    });
  };

  wasDeploymentDeleted: ExposeEvents['wasDeploymentDeleted'] = (...args) => this.opts.bus.wasDeploymentDeleted(...args);
  wasExposed: ExposeEvents['wasExposed'] = (...args) => this.opts.bus.wasExposed(...args);

  status(): unknown {
    return this.opts.bus.status();
  }

  /**
   * Shutdown: the records still held are published (unpaced, `inFlight` at once) and those already
   * going are waited for, within `closeTimeoutMs` (the host bounds its whole shutdown); what is left
   * is logged with its count and answered as not published. Then the bus closes.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    const left = [...this.held.values()];
    this.held.clear();
    if (left.length > 0) this.opts.log.info({ records: left.length }, 'publishing the deployment.exposed records held');
    const deadline = this.clock.monotonic() + this.pacing.closeTimeoutMs;
    const worker = async () => {
      while (left.length > 0 && this.clock.monotonic() < deadline) await this.send(left.shift()!);
    };
    const all = Promise.all([...this.sending, ...Array.from({ length: this.pacing.inFlight }, worker)]);
    const ended = await within(all, this.pacing.closeTimeoutMs, this.clock);
    if (left.length > 0 || ended === TIMED_OUT) {
      this.opts.log.warn({ notPublished: left.length, stillGoing: this.sending.size }, 'deployment.exposed records not published before shutdown');
      for (const { answers } of left.splice(0)) for (const { resolve } of answers) resolve({ ok: false, error: 'shut down before it was published' });
    }
    await this.opts.bus.close();
  }

  /** Publishes held records as far as the pacing allows, and sets a timer for the next one. */
  private pump(): void {
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.held.size > 0 && !this.closed && this.sending.size < this.pacing.inFlight) {
      const wait = this.waitForNext();
      if (wait > 0) {
        this.timer = this.clock.setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      const [key, next] = this.held.entries().next().value!;
      this.held.delete(key);
      const sending: Promise<void> = this.send(next).finally(() => {
        this.sending.delete(sending);
        this.pump();
      });
      this.sending.add(sending);
    }
  }

  /** How long until the next held record may go (0: now, and its token is taken). */
  private waitForNext(): number {
    return this.pacer.waitForNext(this.held.values().next().value!.since);
  }

  private async send(held: Held): Promise<void> {
    let result: PublishResult;
    try {
      result = await this.opts.bus.publish('deployment.exposed', held.input, held.options);
    } catch (err) {
      // An invalid payload: the caller's announce() logs it, as it would have at once.
      for (const { reject } of held.answers) reject(err);
      return;
    }
    for (const { resolve } of held.answers) resolve(result);
  }
}
