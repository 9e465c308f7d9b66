// One durable JetStream consumer: hands every event of one kind to a handler,
// one at a time, acking on success. A malformed message is logged, counted and
// acked (never redelivered); a handler error is retried with a growing delay
// up to maxDeliver deliveries, then dropped with an error log. Keeps going
// across NATS restarts until the link closes.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { desiredConsumerConfig } from './jetstream-config';
import type { NatsLink } from './nats-link';
import { errorText, isStreamLost } from './nats-errors';
import { decodeEvent } from './schemas';
import type { EventPayload } from './schemas';
import { API_TIMEOUT_MS } from './stream-setup';
import { STREAM_NAME } from './subjects';
import type { EventKind } from './subjects';

export interface EventMeta {
  subject: string;
  /** Stream sequence of the message. */
  seq: number;
  /** 1 on first delivery. */
  deliveryCount: number;
}

export type EventHandler<K extends EventKind> = (event: EventPayload<K>, meta: EventMeta) => Promise<void>;

export interface DurableConsumerOptions<K extends EventKind> {
  kind: K;
  durable: string;
  handler: EventHandler<K>;
  link: NatsLink;
  log: Logger;
  maxDeliver: number;
  retryDelayMs: number;
  reconnectWaitMs: number;
  malformed: Counter<'kind'>;
  consumed: Counter<'kind' | 'result'>;
  /** Sees every well-formed event before the handler (the bus remembers deletions this way). */
  onDecoded?: (event: EventPayload<K>) => void;
}

const MAX_RETRY_DELAY_MS = 60_000;
/** Messages pulled ahead of the handler; all of them must be handled within the ack wait. */
const PULL_BATCH = 8;

export class DurableConsumer<K extends EventKind> {
  private messages: ConsumerMessages | undefined;
  private readonly loop: Promise<void>;
  private stopped = false;
  private wakeOnStop!: () => void;
  /** Resolves on stop(), so a loop waiting for NATS or a retry ends at once. */
  private readonly stopSignal = new Promise<void>((resolve) => (this.wakeOnStop = resolve));

  constructor(private readonly opts: DurableConsumerOptions<K>) {
    this.loop = this.run();
  }

  /**
   * Stops pulling and waits for the handler in flight: when the bus closes
   * (after link.beginClose()), or on its own when this replica stops leading,
   * so that the durable's messages go to the replica that does.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeOnStop();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }

  private get ending(): boolean {
    return this.opts.link.closing || this.stopped;
  }

  private async run(): Promise<void> {
    const { link, kind, durable, log } = this.opts;
    while (!this.ending) {
      while (!this.ending && !link.connected) await Promise.race([link.nextChange(), this.stopSignal]);
      const nc = link.connection;
      if (!nc) continue;
      try {
        const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
        await this.ensureConsumer(jsm);
        const consumer = await jetstream(nc, { timeout: API_TIMEOUT_MS }).consumers.get(STREAM_NAME, durable);
        if (this.ending) break;
        // A consumer or stream that vanished (a NATS that lost its storage) ends the
        // iterator, and this loop sets both up again.
        this.messages = await consumer.consume({ max_messages: PULL_BATCH, abort_on_missing_resource: true });
        log.info({ kind, durable }, 'consuming events');
        for await (const msg of this.messages) await this.deliver(msg);
        const ended = await this.messages.closed();
        if (ended && !this.ending) throw ended;
      } catch (err) {
        if (this.ending) break;
        log.warn({ kind, durable, error: errorText(err) }, 'event consumer stopped; restarting');
        if (isStreamLost(err)) link.streamLost(errorText(err));
      } finally {
        this.messages = undefined;
      }
      if (!this.ending) await Promise.race([link.sleep(this.opts.reconnectWaitMs), this.stopSignal]);
    }
    if (this.stopped && !link.closing) log.info({ kind, durable }, 'stopped consuming events');
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const { kind, durable } = this.opts;
    const config = desiredConsumerConfig(kind, durable, this.opts.maxDeliver);
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
      this.opts.log.info({ kind, durable }, 'consumer settings updated');
    }
  }

  private async deliver(msg: JsMsg): Promise<void> {
    const { kind, log } = this.opts;
    const decoded = decodeEvent(kind, msg.subject, msg.data);
    if (!decoded.ok) {
      this.opts.malformed.inc({ kind });
      log.warn({ kind, subject: msg.subject, seq: msg.seq, reason: decoded.reason }, 'malformed event dropped');
      msg.ack();
      return;
    }
    this.opts.onDecoded?.(decoded.event);
    const attempt = msg.info.deliveryCount;
    try {
      await this.opts.handler(decoded.event, { subject: msg.subject, seq: msg.seq, deliveryCount: attempt });
      msg.ack();
      this.opts.consumed.inc({ kind, result: 'ok' });
    } catch (err) {
      const error = errorText(err);
      if (attempt >= this.opts.maxDeliver) {
        // No reason text: servers before 2.10 do not understand "+TERM <reason>" and
        // would leave the message pending; the log line carries the reason instead.
        msg.term();
        this.opts.consumed.inc({ kind, result: 'gave_up' });
        log.error({ kind, subject: msg.subject, seq: msg.seq, attempt, error }, 'event handler failed; giving up on this event');
      } else {
        const delayMs = Math.min(this.opts.retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
        msg.nak(delayMs);
        this.opts.consumed.inc({ kind, result: 'retry' });
        log.warn({ kind, subject: msg.subject, seq: msg.seq, attempt, delayMs, error }, 'event handler failed; will retry');
      }
    }
  }
}
