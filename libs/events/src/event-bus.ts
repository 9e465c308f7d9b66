// The controllers' link to NATS JetStream, as one small facade: typed publish
// and consume on the EKSPOSE stream, and the record lookups of docs/design.md §3.4.
// The work is done by its parts: NatsLink (connection and stream), RecordLookup
// (history questions) and DurableConsumer (one per consumed kind).
//
// NATS being down is a normal condition here, never a start-up failure: the bus
// connects in the background and keeps trying forever, publish reports
// ok:false instead of waiting, and lookups answer 'unknown'.
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { type Clock, natsServers, realClock } from '@ekspose/k8s';
import { DurableConsumer } from './durable-consumer';
import type { EventHandler } from './durable-consumer';
import { assertDurableName, DEFAULT_STREAM_MAX_AGE_SECONDS, desiredStreamConfig } from './jetstream-config';
import { NatsLink } from './nats-link';
import type { NatsLinkStatus } from './nats-link';
import { errorText, isConnectionClosed, isNoResponders } from './nats-errors';
import { RecordLookup } from './record-lookup';
import type { DeletionAnswer, ExposedObject, ExposureAnswer } from './record-lookup';
import { validateEvent } from './schemas';
import type { EventInput, EventPayload } from './schemas';
import { subjectFor } from './subjects';
import type { EventKind } from './subjects';

export type { EventHandler, EventMeta } from './durable-consumer';
export type { DeletionAnswer, ExposedObject, ExposureAnswer } from './record-lookup';
export type EventBusStatus = NatsLinkStatus;

export interface EventBusOptions {
  /** NATS URL(s), comma-separated, e.g. `nats://nats.ekspose-system:4222`. */
  servers: string;
  /** Connection name shown by the server, e.g. the controller's name. */
  name: string;
  /** NATS user and password (manifests/nats/auth.conf gives each controller its own). */
  user?: string;
  pass?: string;
  /**
   * Bring the stream's settings up to date when they drifted. Default false:
   * only the deployment-controller passes true (NATS lets only it update the
   * stream). Others create the stream when it is missing and otherwise only
   * read it, so a probe or a tool never turns a 3-replica stream into one.
   */
  manageStream?: boolean;
  log: Logger;
  registry: Registry;
  /** How long the stream keeps events. Default 7 days. */
  streamMaxAgeSeconds?: number;
  /** Copies of the stream in a JetStream cluster (1 on a single server, whatever is asked). Default 1. */
  streamReplicas?: number;
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

const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/** How recently the link must have been up for a publish to wait for it rather than fail at once. */
export const RECONNECT_GRACE_MS = 10_000;
/**
 * Pause before publishing again after "no responders": nobody took the message (the stream
 * is electing a leader, as when a server of the cluster goes into lame-duck mode and hands
 * its leaderships over), so a retry cannot store it twice.
 */
const NO_RESPONDERS_RETRY_MS = 250;

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export class EventBus {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly link: NatsLink;
  private readonly lookup: RecordLookup;
  private readonly maxDeliver: number;
  private readonly retryDelayMs: number;
  private readonly reconnectWaitMs: number;
  private readonly connectedGauge: Gauge;
  private readonly publishes: Counter<'kind' | 'result'>;
  private readonly malformed: Counter<'kind'>;
  private readonly consumed: Counter<'kind' | 'result'>;
  private readonly consumers = new Map<string, DurableConsumer<EventKind>>();
  private started = false;
  private closePromise: Promise<void> | undefined;

  constructor(options: EventBusOptions) {
    const servers = natsServers(options.servers);
    if (servers.length === 0) throw new Error('EventBus needs at least one NATS server URL');
    this.log = options.log;
    this.clock = options.clock ?? realClock;
    const maxAgeSeconds = options.streamMaxAgeSeconds ?? DEFAULT_STREAM_MAX_AGE_SECONDS;
    const streamReplicas = options.streamReplicas ?? 1;
    desiredStreamConfig(maxAgeSeconds, streamReplicas); // rejects a bad max age or replica count now rather than at connect time
    this.reconnectWaitMs = options.reconnectWaitMs ?? 2000;
    this.maxDeliver = options.maxDeliver ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 1000;

    const registry = options.registry;
    this.connectedGauge =
      (registry.getSingleMetric('ekspose_nats_connected') as Gauge | undefined) ??
      new Gauge({ name: 'ekspose_nats_connected', help: '1 when connected to NATS with the EKSPOSE stream in place, else 0', registers: [registry] });
    this.connectedGauge.set(0);
    this.publishes = counter(registry, 'ekspose_nats_publishes_total', 'JetStream publishes by event kind and result', ['kind', 'result']);
    this.malformed = counter(registry, 'ekspose_nats_malformed_total', 'Received events dropped as malformed', ['kind']);
    this.consumed = counter(registry, 'ekspose_nats_consumed_total', 'Received events by kind and handler result', ['kind', 'result']);

    this.link = new NatsLink({
      servers,
      name: options.name,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.pass !== undefined ? { pass: options.pass } : {}),
      manageStream: options.manageStream ?? false,
      log: this.log,
      clock: this.clock,
      maxAgeSeconds,
      streamReplicas,
      reconnectWaitMs: this.reconnectWaitMs,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      onStateChange: (connected) => this.connectedGauge.set(connected ? 1 : 0),
    });
    this.lookup = new RecordLookup({
      connection: () => this.link.connection,
      streamLost: (reason) => this.link.streamLost(reason),
      log: this.log,
      clock: this.clock,
      deletedUidCapacity: options.deletedUidCapacity ?? 10_000,
    });
  }

  /** Starts connecting in the background; returns at once and never throws for NATS being away. */
  start(): void {
    if (this.link.closing) throw new Error('EventBus.start() after close()');
    if (this.started) return;
    this.started = true;
    this.link.start();
  }

  /** Connected and the stream is in place: publishing and lookups can work. */
  get connected(): boolean {
    return this.link.connected;
  }

  status(): EventBusStatus {
    return this.link.status();
  }

  /**
   * Validates and publishes one event, waiting for the stream's ack. An invalid
   * payload throws (a bug: the types already rule most out); NATS trouble is a
   * result, never an exception, and never a wait beyond timeoutMs. An ok:false
   * after a timeout does not prove the event was not stored: retry with the same
   * msgId to stay exactly-once.
   */
  async publish<K extends EventKind>(kind: K, input: EventInput<K>, options: PublishOptions = {}): Promise<PublishResult> {
    const event = validateEvent(kind, input);
    const subject = subjectFor(kind, event.namespace, event.name);
    const deleted = kind === 'deployment.deleted' ? (event as EventPayload<'deployment.deleted'>) : undefined;
    const msgId = options.msgId ?? deleted?.uid;
    const timeoutMs = options.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    const startedAt = this.clock.now();
    // A link down for a moment (a NATS roll, the stream checked again after a reconnect) is waited for within the
    // timeout; one down for longer fails at once, so an outage never slows cleanup.
    const nc = this.link.connection ?? (await this.link.connectionSoon(timeoutMs, RECONNECT_GRACE_MS));
    if (!nc) {
      const problem = this.link.lastProblem;
      const error = this.link.closing ? 'event bus is closed' : `not connected to NATS${problem ? `: ${problem}` : ''}`;
      this.publishes.inc({ kind, result: 'unavailable' });
      this.log.warn({ kind, subject, msgId, error }, 'event not published');
      return { ok: false, error };
    }
    let current = nc;
    for (;;) {
      const remaining = Math.max(1, timeoutMs - (this.clock.now() - startedAt));
      try {
        const ack = await jetstream(current, { timeout: remaining }).publish(subject, JSON.stringify(event), {
          timeout: remaining,
          ...(msgId !== undefined ? { msgID: msgId } : {}),
        });
        if (deleted) this.lookup.rememberDeleted(deleted.namespace, deleted.name, deleted.uid);
        this.publishes.inc({ kind, result: ack.duplicate ? 'duplicate' : 'ok' });
        this.log.debug({ kind, subject, msgId, seq: ack.seq, duplicate: ack.duplicate, durationMs: this.clock.now() - startedAt }, 'event published');
        return { ok: true, seq: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        const error = errorText(err);
        // Nobody took it, and there is time for another try: the stream is between leaders.
        if (isNoResponders(err) && this.clock.now() - startedAt + NO_RESPONDERS_RETRY_MS < timeoutMs && !this.link.closing) {
          this.log.debug({ kind, subject, msgId, error }, 'no responders; publishing again');
          await this.link.sleep(NO_RESPONDERS_RETRY_MS);
          current = this.link.connection ?? current;
          continue;
        }
        // Its connection was closed under it (a move off a lame-duck server whose drain took longer than the wait for
        // it): again on the link's next connection, once there, within the timeout. One stored after all is stored
        // once more only without a message id: deployment.deleted always has one; a second deployment.exposed or
        // *.recreated record says the same thing again (the recreated ones are an audit trail nobody in ekspose reads).
        const left = timeoutMs - (this.clock.now() - startedAt);
        const next = isConnectionClosed(err) && left > 0 && !this.link.closing ? (this.link.connection ?? (await this.link.connectionSoon(left, RECONNECT_GRACE_MS))) : undefined;
        if (next && next !== current && !next.isClosed()) {
          this.log.debug({ kind, subject, msgId, error }, 'connection closed under the publish; publishing again on the new one');
          current = next;
          continue;
        }
        if (isNoResponders(err)) this.link.streamLost(error);
        this.publishes.inc({ kind, result: 'error' });
        this.log.warn({ kind, subject, msgId, error, durationMs: this.clock.now() - startedAt }, 'event not published');
        return { ok: false, error };
      }
    }
  }

  /** Whether a deployment.deleted record exists for this uid (docs/design.md §3.4); 'unknown' when NATS cannot be asked. */
  wasDeploymentDeleted(namespace: string, name: string, uid: string, options: { timeoutMs?: number } = {}): Promise<DeletionAnswer> {
    return this.lookup.wasDeploymentDeleted(namespace, name, uid, options.timeoutMs);
  }

  /** Whether a deployment.exposed record says ekspose made this object for this uid; 'unknown' when NATS cannot be asked. */
  wasExposed(namespace: string, name: string, uid: string, object: ExposedObject, options: { timeoutMs?: number } = {}): Promise<ExposureAnswer> {
    return this.lookup.wasExposed(namespace, name, uid, object, options.timeoutMs);
  }

  /**
   * Hands every event of one kind to `handler` through a durable consumer (see
   * DurableConsumer). Every deployment.deleted seen this way is also remembered
   * for wasDeploymentDeleted.
   */
  consume<K extends EventKind>(kind: K, durableName: string, handler: EventHandler<K>): void {
    assertDurableName(durableName);
    if (this.link.closing) throw new Error('EventBus.consume() after close()');
    if (this.consumers.has(durableName)) throw new Error(`durable consumer ${durableName} is already consumed by this bus`);
    const consumer = new DurableConsumer<K>({
      kind,
      durable: durableName,
      handler,
      link: this.link,
      log: this.log,
      maxDeliver: this.maxDeliver,
      retryDelayMs: this.retryDelayMs,
      reconnectWaitMs: this.reconnectWaitMs,
      malformed: this.malformed,
      consumed: this.consumed,
      onDecoded: (event) => {
        if (kind !== 'deployment.deleted') return;
        const deleted = event as EventPayload<'deployment.deleted'>;
        this.lookup.rememberDeleted(deleted.namespace, deleted.name, deleted.uid);
      },
    });
    this.consumers.set(durableName, consumer as unknown as DurableConsumer<EventKind>);
  }

  /**
   * Remembers every deployment.deleted on the stream through a durable consumer,
   * so that wasDeploymentDeleted answers from memory for what this controller has
   * heard of, even while NATS is down later.
   */
  followDeletions(durableName: string): void {
    this.consume('deployment.deleted', durableName, async () => undefined);
  }

  /**
   * Stops one durable consumer (this replica no longer leads): the durable's
   * messages then go to the replica that does, and it may be consumed again later.
   */
  async stopConsuming(durableName: string): Promise<void> {
    const consumer = this.consumers.get(durableName);
    if (!consumer) return;
    this.consumers.delete(durableName);
    await consumer.stop();
  }

  /** Stops consuming, lets in-flight handlers finish, drains and closes. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= (async () => {
      this.link.beginClose();
      await Promise.allSettled([...this.consumers.values()].map((c) => c.stop()));
      await this.link.close();
      this.log.info('event bus closed');
    })();
    return this.closePromise;
  }
}
