// The runtime's metrics, behind a small interface so the work queue, the
// elector and the informers never touch prom-client and tests can pass a fake.
// What a product adds (ekspose's decisions, conflicts) it registers itself on
// the same registry, with the same `controller` label: see counterFor().
import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';

export type ReconcileOutcome = 'done' | 'requeue' | 'error' | 'terminal';
export type WriteAction = 'create' | 'patch' | 'delete';

export interface ControllerMetrics {
  reconciled(result: ReconcileOutcome, durationSeconds: number): void;
  setQueueDepth(depth: number): void;
  retried(): void;
  setLeader(isLeader: boolean): void;
  informerRestarted(resource: string): void;
  /** kind is a lower-case resource kind (bounded: the kinds a controller writes), e.g. `event`. */
  objectWritten(kind: string, action: WriteAction): void;
  /** Kubernetes Events recorded and not yet written (held during a burst, queued, in flight). */
  setEventsPending(pending: number): void;
  /** Events given up: `why` is queue-full, hold-limit or shutdown. */
  eventsDropped(why: string, count: number): void;
}

export const METRIC_PREFIX = 'ekspose_';

/** Reconciles are API round trips: from a few ms to a slow apiserver's tens of seconds. */
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ControllerMetricsOptions {
  /**
   * Also register prom-client's Node process metrics, once per registry. Prefixed
   * ekspose_ (ekspose_process_cpu_seconds_total, ekspose_nodejs_heap_size_used_bytes…):
   * prefixing ekspose_process_ would stutter as ekspose_process_process_cpu_….
   */
  defaultMetrics?: boolean;
}

/**
 * Every metric carries a `controller` label, so several controllers can share
 * one registry (in-process integration tests) and dashboards can tell them apart.
 * Calling this twice on one registry reuses the metrics already registered there.
 */
export function createControllerMetrics(
  registry: Registry,
  controller: string,
  opts: ControllerMetricsOptions = {},
): ControllerMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => counterFor(registry, name, help, labelNames);
  const gauge = (name: string, help: string) =>
    existing<Gauge<'controller'>>(registry, name) ??
    new Gauge({ name, help, labelNames: ['controller'], registers: [registry] });

  const reconcileTotal = counter(`${METRIC_PREFIX}reconcile_total`, 'Reconciles by result.', ['result']);
  const reconcileDuration =
    existing<Histogram<'controller' | 'result'>>(registry, `${METRIC_PREFIX}reconcile_duration_seconds`) ??
    new Histogram({
      name: `${METRIC_PREFIX}reconcile_duration_seconds`,
      help: 'Time spent in one reconcile, by result.',
      labelNames: ['controller', 'result'],
      buckets: RECONCILE_BUCKETS,
      registers: [registry],
    });
  const queueDepth = gauge(`${METRIC_PREFIX}queue_depth`, 'Keys waiting in the work queue, not counting in-flight or delayed ones.');
  const queueRetries = counter(`${METRIC_PREFIX}queue_retries_total`, 'Keys put back with backoff after a failed reconcile.', []);
  const leader = gauge(`${METRIC_PREFIX}leader`, '1 while this replica holds the lease, else 0.');
  const informerRestarts = counter(`${METRIC_PREFIX}informer_restarts_total`, 'Informer list/watch restarts, by resource.', ['resource']);
  const objectsWritten = counter(`${METRIC_PREFIX}objects_written_total`, 'Writes to the API server, by kind and action.', ['kind', 'action']);
  const eventsPending = gauge(`${METRIC_PREFIX}events_pending`, 'Kubernetes Events recorded and not yet written: Normal ones held while the work queue is busy, queued, in flight.');
  const eventsDropped = counter(`${METRIC_PREFIX}events_dropped_total`, 'Kubernetes Events given up, by why: queue-full, hold-limit, shutdown.', ['why']);

  if (opts.defaultMetrics && !registry.getSingleMetric(`${METRIC_PREFIX}process_cpu_user_seconds_total`)) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  // Zero the label sets we know up front so rate() works from the first scrape.
  for (const result of ['done', 'requeue', 'error', 'terminal'] as const) reconcileTotal.inc({ controller, result }, 0);
  queueRetries.inc({ controller }, 0);
  queueDepth.set({ controller }, 0);
  leader.set({ controller }, 0);
  eventsPending.set({ controller }, 0);
  for (const why of ['queue-full', 'hold-limit', 'shutdown']) eventsDropped.inc({ controller, why }, 0);

  return {
    reconciled(result, durationSeconds) {
      reconcileTotal.inc({ controller, result });
      reconcileDuration.observe({ controller, result }, durationSeconds);
    },
    setQueueDepth: (depth) => queueDepth.set({ controller }, depth),
    retried: () => queueRetries.inc({ controller }),
    setLeader: (isLeader) => leader.set({ controller }, isLeader ? 1 : 0),
    informerRestarted: (resource) => informerRestarts.inc({ controller, resource }),
    objectWritten: (kind, action) => objectsWritten.inc({ controller, kind, action }),
    setEventsPending: (pending) => eventsPending.set({ controller }, pending),
    eventsDropped: (why, count) => eventsDropped.inc({ controller, why }, count),
  };
}

/** A counter with a `controller` label, or the one already registered under that name. */
export function counterFor<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L | 'controller'> {
  return (
    existing<Counter<L | 'controller'>>(registry, name) ??
    new Counter({ name, help, labelNames: ['controller', ...labelNames], registers: [registry] })
  );
}

function existing<M>(registry: Registry, name: string): M | undefined {
  return registry.getSingleMetric(name) as M | undefined;
}
