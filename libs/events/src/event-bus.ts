import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamManager, JsMsg, StoredMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { systemClock } from './clock';
import type { Clock } from './clock';
import {
  assertDurableName,
  DEFAULT_STREAM_MAX_AGE_SECONDS,
  desiredConsumerConfig,
  desiredStreamConfig,
  streamConfigUpdate,
} from './jetstream-config';
import { RecentSet } from './recent-set';
import { decodeEvent, validateEvent } from './schemas';
import type { EventInput, EventPayload } from './schemas';
import { STREAM_NAME, subjectFor } from './subjects';
import type { EventKind } from './subjects';

export interface EventBusOptions {
  /** NATS URL(s), comma-separated, e.g. `nats://nats.ekspose-system:4222`. */
  servers: string;
  /** Connection name shown by the server, e.g. the controller's name. */
  name: string;
  log: Logger;
  registry: Registry;
  /** How long the stream keeps events. Default 7 days. */
  streamMaxAgeSeconds?: number;
  clock?: Clock;
  /** Pause between connection attempts (and the client's reconnect wait). Default 2000. */
  reconnectWaitMs?: number;
  /** Limit for one connection handshake. Default 5000. */
  connectTimeoutMs?: number;
  /** Deliveries of one message before a failing handler is given up on. Default 5. */
  maxDeliver?: number;
  /** First redelivery delay after a handler error; doubles per attempt. Default 1000. */
  retryDelayMs?: number;
  /** How many deployment.deleted uids are remembered in memory. Default 10000. */
  deletedUidCapacity?: number;
}

export interface PublishOptions {
  /** JetStream message id for de-duplication. deployment.deleted defaults to its uid. */
  msgId?: string;
  /** Bound on the wait for the stream's ack. Default 5000. */
  timeoutMs?: number;
}

export type PublishResult = { ok: true; seq: number; duplicate: boolean } | { ok: false; error: string };

export type DeletionAnswer = 'deleted' | 'not-deleted' | 'unknown';

export interface EventMeta {
  subject: string;
  /** Stream sequence of the message. */
  seq: number;
  /** 1 on first delivery. */
  deliveryCount: number;
}

export type EventHandler<K extends EventKind> = (event: EventPayload<K>, meta: EventMeta) => Promise<void>;

export interface EventBusStatus {
  connected: boolean;
  server?: string;
  lastError?: string;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;
const API_TIMEOUT_MS = 5000;
const DRAIN_TIMEOUT_MS = 5000;
const MAX_RETRY_DELAY_MS = 60_000;
/** Older deployment.deleted records of one ns/name read before giving up with 'unknown'. */
const MAX_RECORDS_SCANNED = 256;
/** Messages pulled ahead of the handler; all of them must be handled within the ack wait. */
const PULL_BATCH = 8;

interface Sleeper {
  handle: unknown;
  wake: () => void;
}

/** The in-memory record is keyed like the stream lookup: by namespace, name and uid. */
function deletionKey(namespace: string, name: string, uid: string): string {
  // Neither a namespace nor a name can contain '/'.
  return `${namespace}/${name}/${uid}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isStreamNotFound(err: unknown): boolean {
  return (
    (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) ||
    errorText(err) === 'stream not found'
  );
}

/** JetStream answers no one: the stream is gone (or JetStream is off) even though the link is up. */
function isNoResponders(err: unknown): boolean {
  return /no responders|jetstream is not enabled/i.test(errorText(err));
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * The controllers' link to NATS JetStream: typed publish and consume on the
 * EKSPOSE stream, and the "was this Deployment deleted?" lookup of DESIGN §3.4.
 *
 * NATS being down is a normal condition here, never a start-up failure: the bus
 * connects in the background and keeps trying forever, publish reports
 * ok:false instead of waiting, and lookups answer 'unknown'.
 */
export class EventBus {
  private readonly servers: string[];
  private readonly name: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly maxAgeSeconds: number;
  private readonly reconnectWaitMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxDeliver: number;
  private readonly retryDelayMs: number;
  private readonly knownDeletions: RecentSet;

  private readonly connectedGauge: Gauge;
  private readonly publishes: Counter<'kind' | 'result'>;
  private readonly malformed: Counter<'kind'>;
  private readonly consumed: Counter<'kind' | 'result'>;

  private nc: NatsConnection | undefined;
  /** The TCP/NATS link is up (between connect/reconnect and disconnect). */
  private linkUp = false;
  /** The stream has been checked on the current link. */
  private streamReady = false;
  /** Bumped on every link or stream change so that stale background work stops. */
  private epoch = 0;
  private lastError: string | undefined;
  private lastLoggedError: string | undefined;

  private started = false;
  private closing = false;
  private runLoop: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly sleepers = new Set<Sleeper>();
  private changeWaiters: Array<() => void> = [];
  private readonly consumerLoops: Promise<void>[] = [];
  private readonly durables = new Set<string>();
  private readonly activeMessages = new Set<ConsumerMessages>();

  constructor(options: EventBusOptions) {
    this.servers = options.servers
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (this.servers.length === 0) throw new Error('EventBus needs at least one NATS server URL');
    this.name = options.name;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.maxAgeSeconds = options.streamMaxAgeSeconds ?? DEFAULT_STREAM_MAX_AGE_SECONDS;
    desiredStreamConfig(this.maxAgeSeconds); // rejects a bad max age now rather than at connect time
    this.reconnectWaitMs = options.reconnectWaitMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.maxDeliver = options.maxDeliver ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.knownDeletions = new RecentSet({ capacity: options.deletedUidCapacity ?? 10_000 });

    const registry = options.registry;
    this.connectedGauge =
      (registry.getSingleMetric('ekspose_nats_connected') as Gauge | undefined) ??
      new Gauge({
        name: 'ekspose_nats_connected',
        help: '1 when connected to NATS with the EKSPOSE stream in place, else 0',
        registers: [registry],
      });
    this.connectedGauge.set(0);
    this.publishes = counter(registry, 'ekspose_nats_publishes_total', 'JetStream publishes by event kind and result', [
      'kind',
      'result',
    ]);
    this.malformed = counter(registry, 'ekspose_nats_malformed_total', 'Received events dropped as malformed', ['kind']);
    this.consumed = counter(registry, 'ekspose_nats_consumed_total', 'Received events by kind and handler result', [
      'kind',
      'result',
    ]);
  }

  /** Starts connecting in the background; returns at once and never throws for NATS being away. */
  start(): void {
    if (this.closing) throw new Error('EventBus.start() after close()');
    if (this.started) return;
    this.started = true;
    this.runLoop = this.runConnection();
  }

  /** Connected and the stream is in place: publishing and lookups can work. */
  get connected(): boolean {
    return this.linkUp && this.streamReady;
  }

  status(): EventBusStatus {
    const status: EventBusStatus = { connected: this.connected };
    if (this.linkUp && this.nc) status.server = this.nc.getServer();
    if (this.lastError !== undefined) status.lastError = this.lastError;
    return status;
  }

  /**
   * Validates and publishes one event, waiting for the stream's ack. An invalid
   * payload throws (a bug); NATS trouble is a result, never an exception, and
   * never a wait beyond timeoutMs. An ok:false after a timeout does not prove
   * the event was not stored: retry with the same msgId to stay exactly-once.
   */
  async publish<K extends EventKind>(kind: K, input: EventInput<K>, options: PublishOptions = {}): Promise<PublishResult> {
    const event = validateEvent(kind, input);
    const subject = subjectFor(kind, event.namespace, event.name);
    const msgId = options.msgId ?? (kind === 'deployment.deleted' ? (event as EventPayload<'deployment.deleted'>).uid : undefined);
    const timeoutMs = options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    const nc = this.nc;
    if (this.closing || !nc || !this.connected) {
      const error = this.closing ? 'event bus is closed' : `not connected to NATS${this.lastError ? `: ${this.lastError}` : ''}`;
      this.publishes.inc({ kind, result: 'unavailable' });
      this.log.warn({ kind, subject, msgId, error }, 'event not published');
      return { ok: false, error };
    }
    const startedAt = this.clock.now();
    try {
      const ack = await jetstream(nc, { timeout: timeoutMs }).publish(subject, JSON.stringify(event), {
        timeout: timeoutMs,
        ...(msgId !== undefined ? { msgID: msgId } : {}),
      });
      if (kind === 'deployment.deleted') this.rememberDeleted(event.namespace, event.name, (event as EventPayload<'deployment.deleted'>).uid);
      this.publishes.inc({ kind, result: ack.duplicate ? 'duplicate' : 'ok' });
      this.log.debug({ kind, subject, msgId, seq: ack.seq, duplicate: ack.duplicate, durationMs: this.clock.now() - startedAt }, 'event published');
      return { ok: true, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      const error = errorText(err);
      if (isNoResponders(err)) this.streamLost(error);
      this.publishes.inc({ kind, result: 'error' });
      this.log.warn({ kind, subject, msgId, error, durationMs: this.clock.now() - startedAt }, 'event not published');
      return { ok: false, error };
    }
  }

  /**
   * Whether a deployment.deleted record exists for this uid (DESIGN §3.4).
   * 'unknown' means NATS could not be asked: the caller decides from the live
   * API alone and says so.
   */
  async wasDeploymentDeleted(
    namespace: string,
    name: string,
    uid: string,
    options: { timeoutMs?: number } = {},
  ): Promise<DeletionAnswer> {
    if (this.knownDeletions.has(deletionKey(namespace, name, uid))) return 'deleted';
    const nc = this.nc;
    if (this.closing || !nc || !this.connected) return 'unknown';
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
    const subject = subjectFor('deployment.deleted', namespace, name);
    const deadline = this.clock.now() + timeoutMs;
    try {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
      const last = await jsm.direct.getMessage(STREAM_NAME, { last_by_subj: subject });
      if (!last) return 'not-deleted';
      if (this.recordUid(last) === uid) return this.rememberDeleted(namespace, name, uid);
      // Usually the last record is the one asked about; an older uid's record can
      // land later (a takeover publishing for a uid it found gone), so read back.
      let from = 1;
      for (let scanned = 0; ; scanned++) {
        if (scanned >= MAX_RECORDS_SCANNED || this.clock.now() > deadline) {
          this.log.warn({ namespace, name, uid, scanned }, 'too many deployment.deleted records to check; answering unknown');
          return 'unknown';
        }
        const record = await jsm.direct.getMessage(STREAM_NAME, { seq: from, next_by_subj: subject });
        if (!record || record.seq >= last.seq) return 'not-deleted';
        if (this.recordUid(record) === uid) return this.rememberDeleted(namespace, name, uid);
        from = record.seq + 1;
      }
    } catch (err) {
      this.log.warn({ namespace, name, uid, error: errorText(err) }, 'could not look up deployment.deleted records');
      if (isStreamNotFound(err) || isNoResponders(err)) this.streamLost(errorText(err));
      return 'unknown';
    }
  }

  /**
   * Hands every event of one kind to `handler` through a durable consumer,
   * one at a time, acking on success. A malformed message is logged, counted
   * and acked (never redelivered); a handler error is retried with a growing
   * delay up to maxDeliver deliveries, then dropped with an error log.
   * Keeps going across NATS restarts until close().
   */
  consume<K extends EventKind>(kind: K, durableName: string, handler: EventHandler<K>): void {
    assertDurableName(durableName);
    if (this.closing) throw new Error('EventBus.consume() after close()');
    if (this.durables.has(durableName)) throw new Error(`durable consumer ${durableName} is already consumed by this bus`);
    this.durables.add(durableName);
    this.consumerLoops.push(this.runConsumer(kind, durableName, handler));
  }

  /** Stops consuming, lets in-flight handlers finish, drains and closes. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const sleeper of this.sleepers) {
      this.clock.clearTimeout(sleeper.handle);
      sleeper.wake();
    }
    this.sleepers.clear();
    this.notifyChange();
    await Promise.allSettled([...this.activeMessages].map((messages) => messages.close()));
    await Promise.allSettled(this.consumerLoops);
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // A drain needs the server; while the link is down it would wait for a reconnect.
      if (this.linkUp) {
        let timer: unknown;
        const bounded = new Promise<void>((resolve) => {
          timer = this.clock.setTimeout(resolve, DRAIN_TIMEOUT_MS);
        });
        await Promise.race([nc.drain().catch(() => undefined), bounded]);
        this.clock.clearTimeout(timer);
      }
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    }
    await this.runLoop;
    this.linkUp = false;
    this.streamReady = false;
    this.connectedGauge.set(0);
    this.log.info('event bus closed');
  }

  private async runConnection(): Promise<void> {
    while (!this.closing) {
      let nc: NatsConnection;
      try {
        nc = await connect({
          servers: this.servers,
          name: this.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.reconnectWaitMs,
          // The first connection is retried by this loop rather than by the client
          // (waitOnFirstConnect): this way each failure is visible in status() and
          // close() can stop the attempts before any connection exists.
          waitOnFirstConnect: false,
          timeout: this.connectTimeoutMs,
          // A silently dead server is noticed within ~30s rather than the default ~4 minutes.
          pingInterval: 10_000,
          maxPingOut: 3,
        });
      } catch (err) {
        this.recordError(`cannot connect to NATS at ${this.servers.join(',')}: ${errorText(err)}`);
        await this.sleep(this.reconnectWaitMs);
        continue;
      }
      if (this.closing) {
        await nc.close().catch(() => undefined);
        break;
      }
      this.nc = nc;
      this.log.info({ server: nc.getServer() }, 'connected to NATS');
      this.linkChanged(true);
      void this.watchStatus(nc);
      const closedWith = await nc.closed();
      this.nc = undefined;
      this.linkChanged(false);
      if (this.closing) break;
      this.recordError(`NATS connection closed${closedWith ? `: ${errorText(closedWith)}` : ''}`);
      await this.sleep(this.reconnectWaitMs);
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.recordError(`disconnected from NATS at ${s.server}`);
          this.linkChanged(false);
          break;
        case 'reconnect':
          this.log.info({ server: s.server }, 'reconnected to NATS');
          this.linkChanged(true);
          break;
        case 'error':
          this.recordError(`NATS error: ${errorText(s.error)}`);
          break;
        case 'ldm':
          this.log.warn({ server: s.server }, 'NATS server entering lame duck mode');
          break;
        case 'staleConnection':
          this.log.warn('NATS connection stale, reconnecting');
          break;
        default:
          break;
      }
    }
  }

  private linkChanged(up: boolean): void {
    this.linkUp = up;
    this.streamReady = false;
    this.epoch++;
    this.publishState();
    if (up) void this.ensureStreamLoop(this.epoch);
  }

  /** The link is up but JetStream no longer answers for the stream: check it again. */
  private streamLost(reason: string): void {
    if (!this.streamReady || this.closing) return;
    this.recordError(`stream ${STREAM_NAME} unavailable: ${reason}`);
    this.streamReady = false;
    this.epoch++;
    this.publishState();
    void this.ensureStreamLoop(this.epoch);
  }

  private async ensureStreamLoop(epoch: number): Promise<void> {
    while (!this.closing && this.epoch === epoch && this.linkUp && this.nc) {
      try {
        await this.ensureStream(this.nc);
        if (this.epoch !== epoch || this.closing) return;
        this.streamReady = true;
        this.lastError = undefined;
        this.lastLoggedError = undefined;
        this.publishState();
        return;
      } catch (err) {
        if (this.epoch !== epoch) return;
        this.recordError(`cannot set up stream ${STREAM_NAME}: ${errorText(err)}`);
        await this.sleep(this.reconnectWaitMs);
      }
    }
  }

  /** Creates the stream, or brings the settings ekspose relies on up to date. Idempotent. */
  private async ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
    const desired = desiredStreamConfig(this.maxAgeSeconds);
    try {
      await this.updateStream(jsm);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await jsm.streams.add({ ...desired });
        this.log.info({ stream: STREAM_NAME, maxAgeSeconds: this.maxAgeSeconds }, 'stream created');
      } catch (addErr) {
        // Another controller created it between our look and our add.
        if (!/already in use/i.test(errorText(addErr))) throw addErr;
        await this.updateStream(jsm);
      }
    }
  }

  private async updateStream(jsm: JetStreamManager): Promise<void> {
    const info = await jsm.streams.info(STREAM_NAME);
    const desired = desiredStreamConfig(this.maxAgeSeconds);
    const update = streamConfigUpdate(info.config, desired);
    if (Object.keys(update).length > 0) {
      await jsm.streams.update(STREAM_NAME, update);
      this.log.info({ stream: STREAM_NAME, changed: Object.keys(update) }, 'stream settings updated');
    }
    if (info.config.storage !== desired.storage) {
      this.log.warn({ stream: STREAM_NAME, storage: info.config.storage }, 'stream is not on file storage; events do not survive a NATS restart');
    }
  }

  private async runConsumer<K extends EventKind>(kind: K, durable: string, handler: EventHandler<K>): Promise<void> {
    while (!this.closing) {
      while (!this.closing && !this.connected) await this.nextChange();
      const nc = this.nc;
      if (this.closing || !nc) break;
      let messages: ConsumerMessages | undefined;
      try {
        const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
        await this.ensureConsumer(jsm, kind, durable);
        const consumer = await jetstream(nc, { timeout: API_TIMEOUT_MS }).consumers.get(STREAM_NAME, durable);
        if (this.closing) break;
        // A consumer or stream that vanished (a NATS that lost its storage) ends the
        // iterator, and this loop sets both up again.
        messages = await consumer.consume({ max_messages: PULL_BATCH, abort_on_missing_resource: true });
        this.activeMessages.add(messages);
        this.log.info({ kind, durable }, 'consuming events');
        for await (const msg of messages) {
          await this.deliver(kind, msg, handler);
        }
        const ended = await messages.closed();
        if (ended && !this.closing) throw ended;
      } catch (err) {
        if (this.closing) break;
        this.log.warn({ kind, durable, error: errorText(err) }, 'event consumer stopped; restarting');
        if (isStreamNotFound(err) || isNoResponders(err)) this.streamLost(errorText(err));
      } finally {
        if (messages) this.activeMessages.delete(messages);
      }
      if (!this.closing) await this.sleep(this.reconnectWaitMs);
    }
  }

  private async ensureConsumer(jsm: JetStreamManager, kind: EventKind, durable: string): Promise<void> {
    const config = desiredConsumerConfig(kind, durable, this.maxDeliver);
    try {
      await jsm.consumers.add(STREAM_NAME, config);
    } catch (err) {
      // Exists with other settings (an older version of this controller): update
      // what can be updated; anything else is a real failure.
      const existing = await jsm.consumers.info(STREAM_NAME, durable).catch(() => undefined);
      if (!existing) throw err;
      await jsm.consumers.update(STREAM_NAME, durable, {
        filter_subject: config.filter_subject,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
      });
      this.log.info({ kind, durable }, 'consumer settings updated');
    }
  }

  private async deliver<K extends EventKind>(kind: K, msg: JsMsg, handler: EventHandler<K>): Promise<void> {
    const decoded = decodeEvent(kind, msg.subject, msg.data);
    if (!decoded.ok) {
      this.malformed.inc({ kind });
      this.log.warn({ kind, subject: msg.subject, seq: msg.seq, reason: decoded.reason }, 'malformed event dropped');
      msg.ack();
      return;
    }
    const event = decoded.event;
    if (kind === 'deployment.deleted') this.rememberDeleted(event.namespace, event.name, (event as EventPayload<'deployment.deleted'>).uid);
    const attempt = msg.info.deliveryCount;
    try {
      await handler(event, { subject: msg.subject, seq: msg.seq, deliveryCount: attempt });
      msg.ack();
      this.consumed.inc({ kind, result: 'ok' });
    } catch (err) {
      const error = errorText(err);
      if (attempt >= this.maxDeliver) {
        // No reason text: servers before 2.10 do not understand "+TERM <reason>" and
        // would leave the message pending; the log line carries the reason instead.
        msg.term();
        this.consumed.inc({ kind, result: 'gave_up' });
        this.log.error({ kind, subject: msg.subject, seq: msg.seq, attempt, error }, 'event handler failed; giving up on this event');
      } else {
        const delayMs = Math.min(this.retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
        msg.nak(delayMs);
        this.consumed.inc({ kind, result: 'retry' });
        this.log.warn({ kind, subject: msg.subject, seq: msg.seq, attempt, delayMs, error }, 'event handler failed; will retry');
      }
    }
  }

  private recordUid(record: StoredMsg): string | undefined {
    const decoded = decodeEvent('deployment.deleted', record.subject, record.data);
    return decoded.ok ? decoded.event.uid : undefined;
  }

  private rememberDeleted(namespace: string, name: string, uid: string): DeletionAnswer {
    // A uid is never reused, so a deletion once seen stays true.
    this.knownDeletions.add(deletionKey(namespace, name, uid));
    return 'deleted';
  }

  private recordError(message: string): void {
    this.lastError = message;
    // One line per distinct problem: a NATS that is down for an hour is not 1800 warnings.
    if (message !== this.lastLoggedError) {
      this.lastLoggedError = message;
      this.log.warn({ error: message }, 'NATS unavailable');
    } else {
      this.log.debug({ error: message }, 'NATS still unavailable');
    }
  }

  private publishState(): void {
    this.connectedGauge.set(this.connected ? 1 : 0);
    if (this.connected) this.log.info({ stream: STREAM_NAME }, 'event bus ready');
    this.notifyChange();
  }

  private notifyChange(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  private sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = { handle: undefined, wake: resolve };
      sleeper.handle = this.clock.setTimeout(() => {
        this.sleepers.delete(sleeper);
        resolve();
      }, ms);
      this.sleepers.add(sleeper);
    });
  }
}
