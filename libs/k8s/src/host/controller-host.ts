// What every ekspose controller process does around its reconcile: probes and
// metrics, informers, the work queue, periodic resync, and an orderly
// shutdown; which work is this replica's is the strategy's (one leader or
// shards, work-strategy.ts). The apps only say which informers, which
// reconcile and which keys to look at.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { describeError } from '../api/api-errors';
import { EventLoopMonitor } from '../observability/event-loop-monitor';
import type { KubeClients } from '../api/kube-client';
import type { LeaseStore } from '../lease/lease-record';
import { WriteFence } from '../lease/write-fence';
import type { MemberStore } from '../shards/member-leases';
import type { ShardedWork } from '../shards/sharded-work';
import { LeaseAccess } from './lease-access';
import type { ControllerMetrics } from '../metrics/metrics';
import type { ProcessSettings } from '../process/process-settings';
import { type CheckResult, type ObservabilityServerOptions, type ObservabilityServers, startObservabilityServers } from '../observability/observability-server';
import { MetricsAuthorizer, apiServerReviews } from '../observability/metrics-auth';
import { selfSignedCertificate } from '../observability/self-signed-certificate';
import type { Reconciler, WorkQueue } from '../queue/work-queue';
import type { HostedInformer } from './hosted-informer';
import { OneLeader } from './one-leader';
import { Shards } from './shards-strategy';
import { type WorkStrategy, bounded } from './work-strategy';

export type { HostedInformer } from './hosted-informer';

export interface ControllerHostOptions {
  /** e.g. `deployment-controller`; also names the Lease (`ekspose-<name>`). */
  name: string;
  settings: ProcessSettings;
  log: Logger;
  registry: Registry;
  metrics: ControllerMetrics;
  clients: KubeClients;
  informers: HostedInformer[];
  queue: WorkQueue;
  reconcile: Reconciler;
  /** Keys to reconcile when this replica starts leading (the start-up reconcile) and on every resync. */
  resyncKeys: () => string[];
  /** Extra readiness details, e.g. NATS state. Never makes the replica unready. */
  readinessDetails?: () => Record<string, unknown>;
  /** Run last on shutdown, e.g. draining NATS. */
  onShutdown?: () => Promise<void>;
  /** This replica now leads: run before the queue starts and the resync is queued (e.g. start consuming NATS). */
  onStartedLeading?: () => void;
  /** This replica is a standby again: its queue is paused and in-flight work has ended; drop what leading kept. */
  onStoppedLeading?: () => void;
  /** With shards, a range was let go (its in-flight work ended): drop what was kept for the keys `gone` says are of it. */
  onRangeLetGo?: (gone: (key: string) => boolean) => void;
  /** How the process ends when it cannot start; injectable for tests. */
  exit?: (code: number) => void;
  /** Event-loop stalls longer than this make /healthz fail. */
  eventLoopStallToleranceMs?: number;
  /** Shutdown waits this long for in-flight reconciles. */
  shutdownTimeoutMs?: number;
  /** Who may read /metrics; default: the API server's TokenReview and SubjectAccessReview. */
  metricsAuthorizer?: Pick<MetricsAuthorizer, 'decide'>;
  /** Where the Lease lives; default the Lease `ekspose-<name>` in POD_NAMESPACE. Tests pass one in memory. */
  leaseStore?: LeaseStore;
  /**
   * EKSPOSE_SHARDS > 1: no leader; every replica serves the ranges its member
   * Lease holds (docs/decisions/0010-shards.md). The work ties ranges to the
   * sharded caches and the queue; the store defaults to the Leases in POD_NAMESPACE.
   */
  sharding?: { work: ShardedWork; store?: MemberStore };
  /**
   * The member Leases a new leader checks before it works (replicas of the same
   * controller still running with EKSPOSE_SHARDS > 1, a rolling update from N to 1).
   * Default: those in POD_NAMESPACE, unless a leaseStore is given (tests in memory).
   */
  memberStore?: MemberStore;
  /**
   * The right to write, moved by whichever Lease this replica renews (the leader
   * Lease, or its member Lease with shards); the write guard of the owned objects
   * checks it. Made here when not given.
   */
  fence?: WriteFence;
}

/** HTTPS and the token check for /metrics, unless EKSPOSE_METRICS_SECURE=false. */
function secureMetrics(opts: ControllerHostOptions): Pick<ObservabilityServerOptions, 'metricsTls' | 'authorizeMetrics'> {
  const { settings, log, clients, name } = opts;
  if (!settings.metricsSecure) {
    log.warn('EKSPOSE_METRICS_SECURE=false: /metrics is plain HTTP and open to anyone who can reach the port');
    return {};
  }
  const tls = settings.metricsCertDir
    ? readServingCertificate(settings.metricsCertDir)
    : selfSignedCertificate({ commonName: name, altNames: ['localhost', '127.0.0.1', hostname(), settings.identity].filter((n, i, all) => n && all.indexOf(n) === i) });
  const authorizer = opts.metricsAuthorizer ?? new MetricsAuthorizer({ reviews: apiServerReviews(clients.config), log });
  return { metricsTls: tls, authorizeMetrics: (header, path) => authorizer.decide(header, path) };
}

function readServingCertificate(dir: string): { cert: string; key: string } {
  try {
    return { cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8') };
  } catch (err) {
    throw new Error(`EKSPOSE_METRICS_CERT_DIR=${dir}: cannot read tls.crt and tls.key: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export class ControllerHost {
  private readonly monitor = new EventLoopMonitor();
  private servers?: ObservabilityServers;
  /** One leader or shards: which work is this replica's. */
  private readonly strategy: WorkStrategy;
  private resyncTimer?: ReturnType<typeof setInterval>;
  private stopping?: Promise<void>;
  private readonly log: Logger;
  readonly fence: WriteFence;
  /** A Lease that can never be kept (its namespace missing, forbidden): not ready, and why. */
  private readonly leaseAccess: LeaseAccess;

  constructor(private readonly opts: ControllerHostOptions) {
    this.log = opts.log;
    this.fence = opts.fence ?? new WriteFence(opts.settings.leaseRenewDeadlineSeconds * 1000);
    this.leaseAccess = new LeaseAccess({ namespace: opts.settings.podNamespace, log: opts.log });
    const context = {
      ...opts,
      fence: this.fence,
      leaseAccess: this.leaseAccess,
      startResync: (now: boolean) => this.startResync(now),
      stopResync: () => this.stopResync(),
      stopping: () => Boolean(this.stopping),
    };
    this.strategy = opts.sharding ? new Shards(context, opts.sharding) : new OneLeader(context);
    const name = 'ekspose_informer_failing_seconds';
    if (!opts.registry.getSingleMetric(name)) {
      const informers = opts.informers;
      new Gauge({
        name,
        help: 'How long each informer has been failing to list or watch (0 while it works): a stuck informer, told on readiness and by EksposeInformerFailing.',
        labelNames: ['controller', 'resource'],
        registers: [opts.registry],
        collect() {
          const now = Date.now();
          for (const s of informers.map((i) => i.status())) {
            this.set({ controller: opts.name, resource: s.resource }, s.failingSince === undefined ? 0 : Math.round((now - s.failingSince) / 1000));
          }
        },
      });
    }
    if (!opts.registry.getSingleMetric('ekspose_informer_objects')) {
      const informers = opts.informers;
      new Gauge({
        name: 'ekspose_informer_objects',
        help: 'Objects this replica caches per informer (with shards: of the ranges it holds only).',
        labelNames: ['controller', 'resource'],
        registers: [opts.registry],
        collect() {
          for (const s of informers.map((i) => i.status())) this.set({ controller: opts.name, resource: s.resource }, s.objects);
        },
      });
    }
  }

  get isLeader(): boolean {
    return this.strategy.leading;
  }

  get ports(): { health?: number; metrics?: number } {
    return { health: this.servers?.healthPort, metrics: this.servers?.metricsPort };
  }

  /**
   * Liveness: the process is alive and its event loop turns. Nothing that
   * depends on the API server: an outage or an upgrade of the control plane
   * must not make the kubelet restart every controller (and CrashLoopBackOff
   * then delay recovery); informers keep retrying by themselves.
   */
  healthz(): CheckResult {
    const stalledMs = this.monitor.stalledForMs();
    const stallTolerance = this.opts.eventLoopStallToleranceMs ?? 10_000;
    return {
      ok: stalledMs <= stallTolerance,
      details: { eventLoopStalledMs: stalledMs },
    };
  }

  /**
   * Readiness: the caches are synced and none has been failing to list/watch
   * for longer than the tolerance (a stuck informer is told here, in
   * ekspose_informer_failing_seconds and by its alert). Whether this replica
   * leads, or could read its Lease, is a detail: a standby is ready, and a
   * Lease read error must not turn every replica unready at once.
   */
  readyz(): CheckResult {
    const now = Date.now();
    const tolerance = this.opts.settings.informerFailureToleranceSeconds * 1000;
    const informers = this.opts.informers.map((i) => i.status());
    const failing = informers.filter((s) => !s.running || (s.failingSince !== undefined && now - s.failingSince > tolerance));
    return {
      ok: informers.every((s) => s.synced) && failing.length === 0 && !this.stopping && !this.leaseAccess.problem,
      details: {
        leader: this.strategy.leading,
        working: this.opts.queue.isRunning,
        ...this.strategy.details(),
        ...(this.leaseAccess.problem ? { lease: this.leaseAccess.problem } : {}),
        stopping: Boolean(this.stopping),
        queueDepth: this.opts.queue.depth,
        queueHeld: this.opts.queue.held,
        informers: Object.fromEntries(
          informers.map((s) => [s.resource, { synced: s.synced, objects: s.objects, ...(s.lastError ? { lastError: s.lastError } : {}) }]),
        ),
        ...(failing.length > 0 ? { failing: failing.map((s) => s.resource) } : {}),
        ...(this.opts.readinessDetails?.() ?? {}),
      },
    };
  }

  async start(): Promise<void> {
    const { settings, log } = this.opts;
    this.monitor.start();
    this.servers = await startObservabilityServers({
      bindAddress: settings.bindAddress,
      healthPort: settings.healthPort,
      metricsPort: settings.metricsPort,
      registry: this.opts.registry,
      healthz: () => this.healthz(),
      readyz: () => this.readyz(),
      log,
      ...secureMetrics(this.opts),
    });
    log.info(
      { healthPort: this.servers.healthPort, metricsPort: this.servers.metricsPort, metrics: this.servers.metricsScheme },
      'probes and metrics listening',
    );
    for (const informer of this.opts.informers) informer.start();
    const started = Date.now();
    await Promise.all([...this.opts.informers.map((i) => i.waitForSync()), this.strategy.prepare?.()]);
    if (this.stopping) return;
    log.info({ durationMs: Date.now() - started }, 'caches synced');

    this.strategy.start();
  }

  private startResync(now: boolean): void {
    if (now) this.resync('start');
    this.stopResync();
    this.resyncTimer = setInterval(() => this.resync('periodic'), this.opts.settings.resyncSeconds * 1000);
    this.resyncTimer.unref();
  }

  private stopResync(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
  }

  private resync(why: string): void {
    const keys = this.opts.resyncKeys().filter((k) => this.strategy.accepts(k));
    for (const key of keys) this.opts.queue.add(key);
    this.log.info({ why, keys: keys.length }, 'resync');
  }

  /** Stop taking work, finish in-flight, release the lease, stop informers, drain NATS. Idempotent. */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopping ??= (async () => {
      const started = Date.now();
      this.log.info({ reason }, 'stopping');
      this.stopResync();
      // Each step is bounded: a control plane or NATS that is already gone must not hold up the exit.
      await this.strategy.stop(() => this.opts.queue.shutdown({ timeoutMs: this.opts.shutdownTimeoutMs ?? 7_000 }));
      this.opts.metrics.setLeader(false);
      await Promise.all(this.opts.informers.map((i) => i.stop()));
      try {
        await bounded(this.opts.onShutdown?.() ?? Promise.resolve(), 3_000, () => this.log.warn('shutdown hook did not finish in time'));
      } catch (err) {
        this.log.warn({ err }, 'shutdown hook failed');
      }
      await this.servers?.close();
      this.monitor.stop();
      this.log.info({ reason, durationMs: Date.now() - started }, 'stopped');
    })();
    return this.stopping;
  }
}


/** SIGTERM/SIGINT → stop → exit 0; a stop that takes longer than `timeoutMs` exits 1. */
export function exitOnSignals(host: { stop(reason?: string): Promise<void> }, log: Logger, timeoutMs = 10_000): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C in a terminal signals the whole process group, and a supervisor
    // may follow with SIGTERM: one shutdown is already under way and bounded
    // by the timer, so later signals are noted, not acted on.
    if (received) {
      log.info({ signal }, 'already stopping');
      return;
    }
    received = true;
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    host.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** The event bus as the host needs it: state for /readyz, and a drain on shutdown. */
export interface HostedBus {
  status(): unknown;
  close(): Promise<void>;
}

/**
 * What every main ends with: host the controller with the bus's state in
 * /readyz and its drain on shutdown, stop on SIGTERM/SIGINT, and start.
 */
export async function runController(
  opts: Omit<ControllerHostOptions, 'readinessDetails' | 'onShutdown'> & {
    bus: HostedBus;
    recorder?: { close(opts: { timeoutMs: number }): Promise<void> };
    /** What the controller keeps per key (tombstones, waiters…), for /readyz: all zero on a standby. */
    bookkeeping?: () => Record<string, number>;
  },
): Promise<ControllerHost> {
  const { bus, recorder, bookkeeping, ...rest } = opts;
  const onShutdown = async () => {
    // Events still held or queued are sent first (the reconciles that recorded them are done), within a bound;
    // the recorder logs and counts what is left (ekspose_events_dropped_total{why="shutdown"}).
    if (recorder) await recorder.close({ timeoutMs: 1_500 });
    await bus.close();
  };
  const host = new ControllerHost({ ...rest, readinessDetails: () => ({ nats: bus.status(), ...(bookkeeping ? { bookkeeping: bookkeeping() } : {}) }), onShutdown });
  exitOnSignals(host, opts.log);
  try {
    await host.start();
  } catch (err) {
    // One JSON line naming the cause (a port in use, an address that cannot be bound), never a stack trace.
    opts.log.fatal({ err: describeError(err) }, `cannot start: ${describeError(err)}`);
    await host.stop('start failed').catch(() => undefined);
    (opts.exit ?? process.exit)(1);
  }
  return host;
}
