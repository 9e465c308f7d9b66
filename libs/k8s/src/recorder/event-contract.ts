// What a recorder is told and how it paces: the Event's parts, the recorder's
// options and pacing defaults, apart from the EventRecorder that writes them.
import type { EventsV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../base/clock';
import type { YieldPacing } from './yield-pacer';
export type EventType = 'Normal' | 'Warning';

/** The object an Event is about; `apiVersion` and `kind` default to a Deployment's. */
export interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

/** A CamelCase reason, e.g. `InvalidSpec`; the product keeps its list of reasons. */
export type EventReason = string;

export interface EventRecorderOptions {
  events: Pick<EventsV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;
  /** `reportingController`, e.g. `ekspose-deployment-controller`. */
  component: string;
  /** `reportingInstance`: this replica, e.g. the Pod name. */
  instance: string;
  /** The Event's `action` (what was done or failed) for a reason; required by events.k8s.io/v1. Default: the reason. */
  actionOf?: (reason: EventReason) => string;
  log: Logger;
  clock?: Clock;
  /** How many distinct events to remember for aggregation. */
  cacheSize?: number;
  onWrite?: (action: 'create' | 'patch') => void;
  /** Event writes in flight at once. Default 2. */
  maxInFlight?: number;
  /** Events waiting beyond those; more are dropped (and logged). Default 1000. */
  maxQueued?: number;
  /** What Normal Events yield to: while it is busy they are held (the controller's work queue). Without it, nothing is held. */
  yieldTo?: BusySignal;
  pacing?: Partial<EventPacing>;
  /** Events recorded and not yet written (held, queued, in flight), on every change. */
  onPending?: (pending: number) => void;
  /** Events given up: a full queue, past the hold limit, or left at shutdown. */
  onDropped?: (why: DropReason, count: number) => void;
  /** Whether an Event about this object may be recorded now (with shards: its namespace's range is held). Default: always. */
  admit?: (obj: InvolvedObject) => boolean;
}

/** Something that works in bursts and says when it starts and stops (WorkQueue). */
export interface BusySignal {
  readonly busy: boolean;
  onBusyChange(listener: (busy: boolean) => void): void;
}

export type DropReason = 'queue-full' | 'hold-limit' | 'shutdown';

/** How held Normal Events go out (quiet, qps, burst, overdue, busyQps: YieldPacing); see the file's head for why. */
export interface EventPacing extends YieldPacing {
  /** Held at most (one per object and reason); more are dropped and counted. */
  maxHeld: number;
  /** Writes in flight at once while close() sends what is held. */
  closeInFlight: number;
}

/**
 * 2,000 Exposed Events go out within about 10 s of a burst's end, 10,000
 * within a minute, with at most two writes in flight (maxInFlight) on a shared
 * API server, and none during a burst for a minute.
 */
export const EVENT_PACING_DEFAULTS: EventPacing = {
  quietMs: 500,
  qps: 200,
  burst: 20,
  overdueMs: 60_000,
  busyQps: 2,
  maxHeld: 50_000,
  closeInFlight: 8,
};
