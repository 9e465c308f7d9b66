// The connection half of the event bus: connects in the background, keeps
// trying forever, follows the client's disconnect/reconnect status, and makes
// sure the stream is in place on every (re)connect. A server going into lame-duck
// mode (a NATS roll) is left make-before-break: a new connection to another
// server takes over before the old one is drained, so publishing never pauses. Everything else asks it
// "connected?" and waits on it for a change; nothing here throws for NATS being away.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type Clock, type TimerHandle, within } from '@ekspose/k8s';
import { errorText } from './nats-errors';
import { ensureStream } from './stream-setup';
import { STREAM_NAME } from './subjects';

export interface NatsLinkOptions {
  servers: string[];
  name: string;
  user?: string;
  pass?: string;
  /** Update a drifted stream (true), or only create a missing one (false). */
  manageStream: boolean;
  log: Logger;
  clock: Clock;
  maxAgeSeconds: number;
  streamReplicas: number;
  reconnectWaitMs: number;
  connectTimeoutMs: number;
  /** Told every time `connected` may have changed. */
  onStateChange: (connected: boolean) => void;
  /** How a connection is opened: the client's connect, unless a test holds one back. */
  connect?: typeof connect;
}

export interface NatsLinkStatus {
  connected: boolean;
  server?: string;
  lastError?: string;
}

const DRAIN_TIMEOUT_MS = 5000;

interface Sleeper {
  handle: TimerHandle | undefined;
  wake: () => void;
}

export class NatsLink {
  private nc: NatsConnection | undefined;
  /** When `connected` last went from true to false (undefined: connected now, or never was). */
  private downSince: number | undefined;
  private everConnected = false;
  /** The TCP/NATS link is up (between connect/reconnect and disconnect). */
  private linkUp = false;
  /** The stream has been checked on the current link. */
  private streamReady = false;
  /** Bumped on every link or stream change so that stale background work stops. */
  private epoch = 0;
  private lastError: string | undefined;
  private lastLoggedError: string | undefined;
  private runLoop: Promise<void> | undefined;
  private readonly sleepers = new Set<Sleeper>();
  private changeWaiters: Array<() => void> = [];
  /** A move off a lame-duck server is under way. */
  private moving = false;
  /** Each connection's own state, by its last status (disconnect/reconnect), the one not in use included. */
  private readonly upOf = new WeakMap<NatsConnection, boolean>();
  closing = false;

  constructor(private readonly opts: NatsLinkOptions) {}

  start(): void {
    this.runLoop ??= this.runConnection();
  }

  /** Connected and the stream is in place: publishing and lookups can work. */
  get connected(): boolean {
    return this.linkUp && this.streamReady;
  }

  /** The connection while `connected`, else undefined. */
  get connection(): NatsConnection | undefined {
    return !this.closing && this.connected ? this.nc : undefined;
  }

  /**
   * The connection, waiting up to `maxWaitMs` for it only when the link went down
   * less than `graceMs` ago: a blip (a server's roll, the stream checked again
   * after a reconnect), not an outage. Never connected, or down for longer: at
   * once, so that NATS being away never slows the callers down.
   */
  async connectionSoon(maxWaitMs: number, graceMs: number): Promise<NatsConnection | undefined> {
    const now = this.opts.clock.now();
    if (this.connection || this.closing || !this.everConnected || this.downSince === undefined || now - this.downSince > graceMs) return this.connection;
    const deadline = now + maxWaitMs;
    while (!this.connection && !this.closing) {
      const left = deadline - this.opts.clock.now();
      if (left <= 0) break;
      let timer: unknown;
      await Promise.race([this.nextChange(), new Promise<void>((resolve) => (timer = this.opts.clock.setTimeout(resolve, left)))]);
      this.opts.clock.clearTimeout(timer as never);
    }
    return this.connection;
  }

  get lastProblem(): string | undefined {
    return this.lastError;
  }

  status(): NatsLinkStatus {
    const status: NatsLinkStatus = { connected: this.connected };
    if (this.linkUp && this.nc) status.server = this.nc.getServer();
    if (this.lastError !== undefined) status.lastError = this.lastError;
    return status;
  }

  /** The link is up but JetStream no longer answers for the stream: check it again. */
  streamLost(reason: string): void {
    if (!this.streamReady || this.closing) return;
    this.recordError(`stream ${STREAM_NAME} unavailable: ${reason}`);
    this.streamReady = false;
    this.epoch++;
    this.stateChanged();
    void this.ensureStreamLoop(this.epoch);
  }

  /** Resolves at the next change of state (or at close). */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  /** A wait on the injected clock that close() cuts short. */
  sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = { handle: undefined, wake: resolve };
      sleeper.handle = this.opts.clock.setTimeout(() => {
        this.sleepers.delete(sleeper);
        resolve();
      }, ms);
      this.sleepers.add(sleeper);
    });
  }

  /** Wakes every waiter so loops can see `closing`; the caller then calls close(). */
  beginClose(): void {
    this.closing = true;
    for (const sleeper of this.sleepers) {
      if (sleeper.handle) this.opts.clock.clearTimeout(sleeper.handle);
      sleeper.wake();
    }
    this.sleepers.clear();
    this.notifyChange();
  }

  /** Drains (bounded) and closes the connection, and ends the connection loop. */
  async close(): Promise<void> {
    this.beginClose();
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      // A drain needs the server; while the link is down it would wait for a reconnect.
      if (this.linkUp) await within(nc.drain().catch(() => undefined), DRAIN_TIMEOUT_MS, this.opts.clock);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    }
    await this.runLoop;
    this.linkUp = false;
    this.streamReady = false;
    this.opts.onStateChange(false);
  }

  recordError(message: string): void {
    this.lastError = message;
    // One line per distinct problem: a NATS that is down for an hour is not 1800 warnings.
    if (message !== this.lastLoggedError) {
      this.lastLoggedError = message;
      this.opts.log.warn({ error: message }, 'NATS unavailable');
    } else {
      this.opts.log.debug({ error: message }, 'NATS still unavailable');
    }
  }

  /** The client's options, the same for every connection of the link. */
  private connectOptions(): Parameters<typeof connect>[0] {
    return {
      servers: this.opts.servers,
      name: this.opts.name,
      ...(this.opts.user !== undefined ? { user: this.opts.user, pass: this.opts.pass } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.opts.reconnectWaitMs,
      // The first connection is retried by this loop rather than by the client
      // (waitOnFirstConnect): this way each failure is visible in status() and
      // close() can stop the attempts before any connection exists.
      waitOnFirstConnect: false,
      timeout: this.opts.connectTimeoutMs,
      // A silently dead server is noticed within ~30s rather than the default ~4 minutes.
      pingInterval: 10_000,
      maxPingOut: 3,
    };
  }

  private async runConnection(): Promise<void> {
    const { servers, log } = this.opts;
    while (!this.closing) {
      let nc: NatsConnection;
      try {
        nc = await (this.opts.connect ?? connect)(this.connectOptions());
      } catch (err) {
        this.recordError(`cannot connect to NATS at ${servers.join(',')}: ${errorText(err)}`);
        await this.sleep(this.opts.reconnectWaitMs);
        continue;
      }
      if (this.closing) {
        await nc.close().catch(() => undefined);
        break;
      }
      this.nc = nc;
      log.info({ server: nc.getServer() }, 'connected to NATS');
      this.linkChanged(true);
      void this.watchStatus(nc);
      let current = nc;
      let closedWith = await current.closed();
      // Replaced by a move off a lame-duck server: follow the new connection instead.
      while (!this.closing && this.nc !== undefined && this.nc !== current) {
        current = this.nc;
        closedWith = await current.closed();
      }
      this.nc = undefined;
      this.linkChanged(false);
      if (this.closing) break;
      this.recordError(`NATS connection closed${closedWith ? `: ${errorText(closedWith)}` : ''}`);
      await this.sleep(this.opts.reconnectWaitMs);
    }
  }

  /**
   * The server of `old` entered lame-duck mode: it takes no new clients and will soon
   * close its own. Connect anew (to another server: this one refuses), check the stream
   * there, switch to the new connection, then drain the old one, so that requests in
   * flight on it get their answers and nothing waits on a reconnect. On any failure the
   * old connection stays, and the client's own reconnect takes over when it closes.
   */
  private async moveOffLameDuck(old: NatsConnection): Promise<void> {
    const { log } = this.opts;
    if (this.moving || this.closing || this.nc !== old) return;
    this.moving = true;
    let fresh: NatsConnection | undefined;
    try {
      fresh = await (this.opts.connect ?? connect)(this.connectOptions());
      // Followed from now on, though the link follows it only once it is the one in use.
      void this.watchStatus(fresh);
      await ensureStream(fresh, this.opts.maxAgeSeconds, log, { update: false, replicas: this.opts.streamReplicas });
      if (this.closing || this.nc !== old) {
        await fresh.close().catch(() => undefined);
        return;
      }
      this.nc = fresh;
      log.info({ from: old.getServer(), server: fresh.getServer() }, 'moved to another NATS server before the lame-duck one closes');
      // The link is now fresh's: up exactly when fresh is connected (its stream was just checked),
      // whatever old reported meanwhile; a disconnect of old during the setup set it down.
      this.linkUp = this.upOf.get(fresh) !== false;
      this.streamReady = this.linkUp;
      this.epoch++;
      if (this.linkUp) {
        this.lastError = undefined;
        this.lastLoggedError = undefined;
      } else this.recordError(`disconnected from NATS at ${fresh.getServer()}`);
      this.stateChanged();
      await within(old.drain().catch(() => undefined), DRAIN_TIMEOUT_MS, this.opts.clock);
      if (!old.isClosed()) await old.close().catch(() => undefined);
    } catch (err) {
      log.warn({ error: errorText(err) }, 'could not move off the NATS server in lame-duck mode; staying until it closes');
      if (fresh && this.nc !== fresh) await fresh.close().catch(() => undefined);
    } finally {
      this.moving = false;
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    const { log } = this.opts;
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.upOf.set(nc, false);
      if (s.type === 'reconnect') this.upOf.set(nc, true);
      // A connection being retired after a move, or not yet in use: what happens to it is not the link's.
      if (nc !== this.nc) continue;
      switch (s.type) {
        case 'disconnect':
          this.recordError(`disconnected from NATS at ${s.server}`);
          this.linkChanged(false);
          break;
        case 'reconnect':
          log.info({ server: s.server }, 'reconnected to NATS');
          this.linkChanged(true);
          break;
        case 'error':
          this.recordError(`NATS error: ${errorText(s.error)}`);
          break;
        case 'ldm':
          log.info({ server: s.server }, 'NATS server entering lame duck mode; moving to another');
          void this.moveOffLameDuck(nc);
          break;
        case 'staleConnection':
          log.warn('NATS connection stale, reconnecting');
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
    this.stateChanged();
    if (up) void this.ensureStreamLoop(this.epoch);
  }

  private async ensureStreamLoop(epoch: number): Promise<void> {
    while (!this.closing && this.epoch === epoch && this.linkUp && this.nc) {
      try {
        await ensureStream(this.nc, this.opts.maxAgeSeconds, this.opts.log, { update: this.opts.manageStream, replicas: this.opts.streamReplicas });
        if (this.epoch !== epoch || this.closing) return;
        this.streamReady = true;
        this.lastError = undefined;
        this.lastLoggedError = undefined;
        this.stateChanged();
        return;
      } catch (err) {
        if (this.epoch !== epoch) return;
        this.recordError(`cannot set up stream ${STREAM_NAME}: ${errorText(err)}`);
        await this.sleep(this.opts.reconnectWaitMs);
      }
    }
  }

  private stateChanged(): void {
    if (this.connected) {
      this.everConnected = true;
      this.downSince = undefined;
    } else if (this.everConnected) {
      this.downSince ??= this.opts.clock.now();
    }
    this.opts.onStateChange(this.connected);
    if (this.connected) this.opts.log.info({ stream: STREAM_NAME }, 'event bus ready');
    this.notifyChange();
  }

  private notifyChange(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
  }
}
