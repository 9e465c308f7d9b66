// What every ekspose controller process does around its reconcile: probes and
// metrics, informers, leader election, the work queue, periodic resync, and
// an orderly shutdown. The apps only say which informers, which reconcile and
// which keys to look at.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { describeError, statusCodeOf } from '../api/api-errors';
import { TIMED_OUT, within } from '../base/clock';
import { EventLoopMonitor } from '../observability/event-loop-monitor';
import type { Informer } from '../cache/informer';
import type { KubeClients } from '../api/kube-client';
import { type LeaseStore, LeaderElector, kubernetesLeaseStore } from '../lease/leader-election';
import { type MemberStore, kubernetesMemberStore } from '../shards/member-leases';
import { ShardMembership } from '../shards/shard-membership';
import { type SeenMember, isLiveMember, observeMembers } from '../shards/shard-members';
import { RangeNotHeldError, type ShardedWork } from '../shards/sharded-work';
import { shardMetrics } from '../shards/shard-metrics';
import type { ControllerMetrics } from '../metrics/metrics';
import type { ProcessSettings } from '../process/process-settings';
import { type CheckResult, type ObservabilityServerOptions, type ObservabilityServers, startObservabilityServers } from '../observability/observability-server';
import { MetricsAuthorizer, apiServerReviews } from '../observability/metrics-auth';
import { selfSignedCertificate } from '../observability/self-signed-certificate';
import type { Reconciler, WorkQueue } from '../queue/work-queue';

/** What the host does with an informer: start it, wait for its sync, report on it, stop it. */
export type HostedInformer = Pick<Informer<never>, 'start' | 'waitForSync' | 'status' | 'stop'>;

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
    throw new Error(`EKSPOSE_METRICS_CERT_DIR=${dir}: cannot read tls.crt and tls.key: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export class ControllerHost {
  private readonly monitor = new EventLoopMonitor();
  private servers?: ObservabilityServers;
  private elector?: LeaderElector;
  private membership?: ShardMembership;
  private resyncTimer?: ReturnType<typeof setInterval>;
  private leading = false;
  /** The pause of the queue after a lost Lease, which a new term waits for. */
  private standingDown: Promise<void> = Promise.resolve();
  private stopping?: Promise<void>;
  private readonly log: Logger;

  constructor(private readonly opts: ControllerHostOptions) {
    this.log = opts.log;
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
    return this.leading;
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
    const leaseProblem = this.elector?.problem;
    const sharding = this.opts.sharding;
    return {
      ok: informers.every((s) => s.synced) && failing.length === 0 && !this.stopping,
      details: {
        leader: this.leading,
        working: this.opts.queue.isRunning,
        ...(leaseProblem ? { lease: leaseProblem } : {}),
        ...(sharding && this.membership ? { shards: { count: this.opts.settings.shards, serving: sharding.work.serving, ...this.membership.status() } } : {}),
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
    await Promise.all(this.opts.informers.map((i) => i.waitForSync()));
    if (this.stopping) return;
    log.info({ durationMs: Date.now() - started }, 'caches synced');

    if (this.opts.sharding) {
      this.startSharing(this.opts.sharding);
      return;
    }
    if (!settings.leaderElection) {
      this.startLeading();
      return;
    }
    const leaseName = `ekspose-${this.opts.name}`;
    this.elector = new LeaderElector({
      store: this.opts.leaseStore ?? kubernetesLeaseStore(this.opts.clients.coordination, settings.podNamespace, leaseName),
      identity: settings.identity,
      leaseDurationMs: settings.leaseDurationSeconds * 1000,
      renewDeadlineMs: settings.leaseRenewDeadlineSeconds * 1000,
      retryPeriodMs: settings.leaseRetryPeriodSeconds * 1000,
      log: log.child({ lease: `${settings.podNamespace}/${leaseName}` }),
      metrics: this.opts.metrics,
      onStartedLeading: () => this.startLeading(),
      onStoppedLeading: () => this.stoppedLeading(),
    });
    log.info({ lease: `${settings.podNamespace}/${leaseName}`, identity: settings.identity }, 'waiting for leadership');
    this.elector.start();
  }

  /**
   * Every replica works, on the ranges it holds: the queue runs from the start
   * and takes only keys of served ranges; the membership loop gains and hands
   * back ranges; a write for a range not held is refused by the guard.
   */
  private startSharing({ work, store }: NonNullable<ControllerHostOptions['sharding']>): void {
    const { settings, log, name } = this.opts;
    const reconcile: Reconciler = async (key) => {
      if (!work.accepts(key)) return { kind: 'done' };
      try {
        return await this.opts.reconcile(key);
      } catch (err) {
        // The range went while this ran: its new holder looks at the key again.
        if (err instanceof RangeNotHeldError) return { kind: 'done' };
        throw err;
      }
    };
    const metrics = shardMetrics({ registry: this.opts.registry, controller: name, informers: this.opts.informers, work, membership: () => this.membership });
    work.onHandover = (direction) => {
      metrics.handovers.inc({ controller: name, direction });
      // With shards "leader" means serving some range: EksposeNoLeader then fires when no replica serves anything.
      this.opts.metrics.setLeader(work.serving.length > 0);
    };
    this.membership = new ShardMembership({
      identity: settings.identity,
      shards: settings.shards,
      store: store ?? this.memberLeases(),
      log: log.child({ shards: settings.shards }),
      leaseDurationMs: settings.leaseDurationSeconds * 1000,
      renewDeadlineMs: settings.leaseRenewDeadlineSeconds * 1000,
      retryPeriodMs: settings.leaseRetryPeriodSeconds * 1000,
      gain: (range) => work.gain(range),
      lose: (range, how) => work.lose(range, how),
      onProblem: (problem) => metrics.refused.set({ controller: name }, problem ? 1 : 0),
    });
    const membership = this.membership;
    work.fence = () => membership.fresh();
    this.leading = true;
    this.opts.metrics.setLeader(false);
    this.opts.onStartedLeading?.();
    this.opts.queue.start(reconcile);
    log.info({ shards: settings.shards, identity: settings.identity }, 'sharing the work: taking ranges through the member Leases');
    this.membership.start();
    this.resyncTimer = setInterval(() => this.resync('periodic'), settings.resyncSeconds * 1000);
    this.resyncTimer.unref();
  }

  private startLeading(): void {
    if (this.leading || this.stopping) return;
    this.leading = true;
    this.opts.metrics.setLeader(true);
    this.log.info({ identity: this.opts.settings.identity }, 'started leading');
    // A term that follows a lost one starts once the old term's reconciles have ended,
    // and once no sharded replica of this controller still serves a range.
    void this.standingDown.then(() => this.shardsLetGo()).then(() => {
      if (!this.leading || this.stopping) return;
      this.opts.onStartedLeading?.();
      this.opts.queue.start(this.opts.reconcile);
      this.resync('start');
      this.resyncTimer = setInterval(() => this.resync('periodic'), this.opts.settings.resyncSeconds * 1000);
      this.resyncTimer.unref();
    });
  }

  /** This controller's member Leases in POD_NAMESPACE, as this replica writes and lists them. */
  private memberLeases(): MemberStore {
    const { settings, clients, name } = this.opts;
    return kubernetesMemberStore(clients.coordination, settings.podNamespace, name, settings.identity);
  }

  /**
   * Waits while a live member Lease of this controller lists held ranges:
   * replicas with EKSPOSE_SHARDS > 1 see this leader's Lease and hand their
   * ranges back; a Lease left by a killed one stops counting when it expires.
   * Never two writers for one namespace during a rolling update from N to 1.
   */
  private async shardsLetGo(): Promise<void> {
    const { settings, log } = this.opts;
    const store = this.opts.memberStore ?? (this.opts.leaseStore ? undefined : this.memberLeases());
    if (!store) return;
    let seen = new Map<string, SeenMember>();
    let told = false;
    while (this.leading && !this.stopping) {
      try {
        const members = (await store.list()).filter((m) => !m.leader);
        seen = observeMembers(seen, members, Date.now());
        const holding = [...seen.values()].filter((m) => isLiveMember(m, Date.now()) && m.lease.held.length > 0).map((m) => m.lease.identity);
        if (holding.length === 0) return;
        if (!told) log.warn({ holding }, 'replicas with EKSPOSE_SHARDS > 1 still serve ranges: waiting for them to hand back before working');
        told = true;
      } catch (err) {
        // Not allowed to list Leases: no replica of this RBAC can have run sharded (it needs the same list).
        if (statusCodeOf(err) === 403) return;
        log.warn({ err }, 'cannot list the shard Leases; waiting before working');
      }
      await new Promise((resolve) => setTimeout(resolve, settings.leaseRetryPeriodSeconds * 1000));
    }
  }

  /**
   * The Lease was lost (the API server unreachable past the renew deadline, or
   * taken over): this replica goes back to being an idle standby, as a fresh
   * one would be. Its work stops, its queue is dropped, its informers keep
   * running, and it leads again when it wins the Lease. Exiting instead would
   * turn every control-plane outage into a restart of every controller pod,
   * and a long one into CrashLoopBackOff.
   */
  private stoppedLeading(): void {
    this.opts.metrics.setLeader(false);
    if (!this.leading || this.stopping) return;
    this.leading = false;
    this.log.warn('lost leadership; standing by');
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.standingDown = this.opts.queue.pause({ timeoutMs: this.opts.shutdownTimeoutMs ?? 7_000 }).then(() => {
      this.opts.onStoppedLeading?.();
      this.log.info('standing by: work stopped, queue dropped, informers kept');
    });
  }

  private resync(why: string): void {
    const work = this.opts.sharding?.work;
    const keys = work ? this.opts.resyncKeys().filter((k) => work.accepts(k)) : this.opts.resyncKeys();
    for (const key of keys) this.opts.queue.add(key);
    this.log.info({ why, keys: keys.length }, 'resync');
  }

  /** Stop taking work, finish in-flight, release the lease, stop informers, drain NATS. Idempotent. */
  stop(reason = 'shutdown'): Promise<void> {
    this.stopping ??= (async () => {
      const started = Date.now();
      this.log.info({ reason }, 'stopping');
      if (this.resyncTimer) clearInterval(this.resyncTimer);
      // Ranges handed back (their work drained) and the member Lease removed first: the others take them at their next round.
      if (this.membership) await withTimeout(this.membership.stop(), 5_000, () => this.log.warn('ranges not handed back in time; they are taken when the Lease expires'));
      await this.opts.queue.shutdown({ timeoutMs: this.opts.shutdownTimeoutMs ?? 7_000 });
      // Each step is bounded: a control plane or NATS that is already gone must not hold up the exit.
      if (this.elector) await withTimeout(this.elector.stop(), 3_000, () => this.log.warn('lease not released in time'));
      this.leading = false;
      this.opts.metrics.setLeader(false);
      await Promise.all(this.opts.informers.map((i) => i.stop()));
      try {
        await withTimeout(this.opts.onShutdown?.() ?? Promise.resolve(), 3_000, () => this.log.warn('shutdown hook did not finish in time'));
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

/** A bounded step of the shutdown: a control plane or NATS that is already gone must not hold up the exit. */
async function withTimeout(work: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  if ((await within(work, ms)) === TIMED_OUT) onTimeout();
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
