// An informer for a resource the cluster may not serve yet (a CRD installed
// later, like the Gateway API's HTTPRoute). Until discovery lists it, the
// informer is not started, its cache is empty and counts as synced (so the
// controller starts and serves everything else), and discovery is asked again
// every `recheckMs`; once it is served the informer starts and `onServed` is
// told, so the controller can look again at what waited for it.
import type { Logger } from 'pino';
import { type Clock, type TimerHandle, realClock } from '../base/clock';
import type { InformerStatus } from './informer';

/** What the gate drives of the real informer. */
export interface GatedInner {
  start(): void;
  waitForSync(): Promise<void>;
  status(): InformerStatus;
  stop(): Promise<void> | void;
}

export interface GatedInformerOptions {
  inner: GatedInner;
  /** e.g. 'httproutes.gateway.networking.k8s.io', for logs and status. */
  resource: string;
  isServed: () => Promise<boolean>;
  onServed: () => void;
  log: Logger;
  /** How often to ask discovery again while the resource is not served. Default 30 s. */
  recheckMs?: number;
  clock?: Clock;
}

export class GatedInformer {
  private served = false;
  private checks = 0;
  private stopped = false;
  private timer: TimerHandle | undefined;
  private firstCheck: Promise<void> | undefined;
  private readonly clock: Clock;

  constructor(private readonly opts: GatedInformerOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** The resource is served and its informer runs. */
  get available(): boolean {
    return this.served;
  }

  start(): void {
    this.firstCheck ??= this.check();
  }

  /** Synced when the first check found the resource absent (empty cache), else when the informer synced. */
  async waitForSync(): Promise<void> {
    await (this.firstCheck ?? this.check());
    if (this.served) await this.opts.inner.waitForSync();
  }

  status(): InformerStatus & { served: boolean } {
    if (this.served) return { ...this.opts.inner.status(), served: true };
    // Waiting for the resource is this informer working as meant: running (so /healthz stays 200), synced, empty.
    return { resource: this.opts.resource, running: !this.stopped, synced: true, objects: 0, restarts: 0, served: false };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.served) await this.opts.inner.stop();
  }

  private async check(): Promise<void> {
    if (this.stopped || this.served) return;
    const later = ++this.checks > 1;
    let served = false;
    try {
      served = await this.opts.isServed();
    } catch (err) {
      this.opts.log.warn({ resource: this.opts.resource, error: err instanceof Error ? err.message : String(err) }, 'cannot ask discovery; asking again later');
    }
    if (this.stopped) return;
    if (!served) {
      this.opts.log.info({ resource: this.opts.resource, recheckMs: this.opts.recheckMs ?? 30_000 }, 'resource not served by the API server; not watching it yet');
      this.timer = this.clock.setTimeout(() => void this.check(), this.opts.recheckMs ?? 30_000);
      return;
    }
    this.served = true;
    this.opts.log.info({ resource: this.opts.resource }, 'resource served; watching it');
    this.opts.inner.start();
    if (later) {
      // Found later than the start: what waited for it is looked at once its cache is filled.
      void this.opts.inner.waitForSync().then(() => !this.stopped && this.opts.onServed());
    }
  }
}
