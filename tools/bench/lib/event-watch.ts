// The Kubernetes Events a controller writes, as a watch of events.k8s.io/v1
// delivers them to the benchmark: when each arrived, and for `Exposed` which
// Deployment it regards. So a scenario can tell the Events written during
// convergence from those written after it, and how long after convergence each
// exposed Deployment got its Exposed Event (issue 27: within a minute, none
// lost).
import type { EventsV1Event, KubeConfig } from '@kubernetes/client-node';
import { boundedWatch } from '@ekspose/k8s';

/** One watch for a whole scenario (the longest, at 10,000, takes minutes). */
const WATCH_SECONDS = 3600;

export interface EventFigures {
  /** Exposed Events that arrived by convergence, and after it. */
  exposedDuring: number;
  exposedAfter: number;
  /** The latest Exposed Event's arrival after convergence, in ms (0 when all came during it). */
  exposedMaxDelayMs: number;
  /** Expected Exposed Events that never came within the wait. */
  exposedMissing: number;
}

export class EventWatch {
  /** `namespace/name` of the Deployment → when its first Exposed Event arrived. */
  readonly exposed = new Map<string, number>();
  private abort: AbortController | undefined;
  private ended: unknown;

  static async start(kc: KubeConfig): Promise<EventWatch> {
    const watch = new EventWatch();
    // client-node ends a watch that has seen no byte for 30 s; no Event comes through a whole burst at 10,000 (they are
    // held), so the bound follows the watch's own timeout, as the informers' watches do.
    const watcher = boundedWatch(kc, WATCH_SECONDS);
    watch.abort = await watcher.watch(
      '/apis/events.k8s.io/v1/events',
      { timeoutSeconds: WATCH_SECONDS },
      (type: string, event: EventsV1Event) => watch.note(type, event),
      (err: unknown) => void (watch.ended ??= err ?? 'ended'),
    );
    return watch;
  }

  private note(type: string, event: EventsV1Event): void {
    const regarding = event.regarding;
    if (type !== 'ADDED' || event.reason !== 'Exposed' || !regarding?.name) return;
    const key = `${regarding.namespace}/${regarding.name}`;
    if (!this.exposed.has(key)) this.exposed.set(key, Date.now());
  }

  /** Set when the watch ended before stop(): its figures are then incomplete. */
  get endedEarly(): unknown {
    return this.ended;
  }

  figures(convergedAt: number, expected: number): EventFigures {
    const arrivals = [...this.exposed.values()];
    const after = arrivals.filter((at) => at > convergedAt);
    return {
      exposedDuring: arrivals.length - after.length,
      exposedAfter: after.length,
      exposedMaxDelayMs: after.length > 0 ? Math.max(...after) - convergedAt : 0,
      exposedMissing: Math.max(0, expected - arrivals.length),
    };
  }

  stop(): void {
    this.ended ??= 'stopped';
    this.abort?.abort();
  }
}

/** POST/PUT/PATCH/DELETE by resource, heaviest first: `POST services 2,000, POST events 1,000, …`. */
export function writesByKind(counts: Map<string, number>): Array<[string, number]> {
  return [...counts].filter(([key]) => /^(POST|PUT|PATCH|DELETE|APPLY) /.test(key)).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** Event writes (create and patch) in a request count. */
export function eventWrites(counts: Map<string, number>): number {
  return (counts.get('POST events') ?? 0) + (counts.get('PATCH events') ?? 0);
}
