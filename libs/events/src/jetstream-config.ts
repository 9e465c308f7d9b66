// The stream and consumer ekspose wants, as pure data, so that "create or bring
// up to date" stays a comparison that tests can check without a server.
import { AckPolicy, DeliverPolicy, DiscardPolicy, ReplayPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import { filterSubjectFor, STREAM_NAME, SUBJECT_ROOT } from './subjects';
import type { EventKind } from './subjects';

export const DEFAULT_STREAM_MAX_AGE_SECONDS = 7 * 24 * 3600;
/**
 * How long the stream remembers message ids. deployment.deleted uses the uid as
 * id, so a publish retried after a lost ack (within this window) is stored once.
 */
export const DUPLICATE_WINDOW_SECONDS = 10 * 60;
/** How long a handler may take before the server redelivers the message. */
export const ACK_WAIT_SECONDS = 60;

const NANOS_PER_SECOND = 1_000_000_000;

export type DesiredStreamConfig = Pick<
  StreamConfig,
  'name' | 'subjects' | 'storage' | 'retention' | 'discard' | 'max_age' | 'duplicate_window' | 'allow_direct' | 'num_replicas'
>;

/** The most copies a JetStream stream can have. */
export const MAX_STREAM_REPLICAS = 5;

export function desiredStreamConfig(maxAgeSeconds: number, replicas = 1): DesiredStreamConfig {
  if (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds <= 0) {
    throw new Error(`stream max age must be a positive number of seconds, got ${maxAgeSeconds}`);
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_STREAM_REPLICAS) {
    throw new Error(`stream replicas must be an integer from 1 to ${MAX_STREAM_REPLICAS}, got ${replicas}`);
  }
  // The server refuses a duplicate window longer than max_age.
  const duplicateWindowSeconds = Math.min(DUPLICATE_WINDOW_SECONDS, maxAgeSeconds);
  return {
    name: STREAM_NAME,
    subjects: [SUBJECT_ROOT],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: Math.round(maxAgeSeconds * NANOS_PER_SECOND),
    duplicate_window: Math.round(duplicateWindowSeconds * NANOS_PER_SECOND),
    // Direct get answers "last deployment.deleted for ns/name" from any replica, cheaply.
    allow_direct: true,
    // Copies on as many servers of a JetStream cluster: one node down loses nothing.
    num_replicas: replicas,
  };
}

/**
 * The settings of an existing stream that differ from what ekspose needs, as an
 * update to apply (empty = nothing to do). Settings ekspose does not care
 * about (extra subjects an operator added, limits) are left alone.
 */
export type StreamConfigUpdate = Partial<Pick<StreamConfig, 'subjects' | 'max_age' | 'duplicate_window' | 'allow_direct' | 'num_replicas'>>;

export function streamConfigUpdate(current: Partial<StreamConfig>, desired: DesiredStreamConfig): StreamConfigUpdate {
  const update: StreamConfigUpdate = {};
  const subjects = current.subjects ?? [];
  if (!subjects.includes(SUBJECT_ROOT)) update.subjects = [...subjects, SUBJECT_ROOT];
  if (current.max_age !== desired.max_age) update.max_age = desired.max_age;
  if (current.duplicate_window !== desired.duplicate_window) update.duplicate_window = desired.duplicate_window;
  if (current.allow_direct !== true) update.allow_direct = true;
  if ((current.num_replicas ?? 1) !== desired.num_replicas) update.num_replicas = desired.num_replicas;
  return update;
}

export function desiredConsumerConfig(kind: EventKind, durableName: string, maxDeliver: number): Partial<ConsumerConfig> {
  return {
    durable_name: durableName,
    filter_subject: filterSubjectFor(kind),
    ack_policy: AckPolicy.Explicit,
    // A new durable starts from the oldest retained event, so a controller that
    // starts after a deletion still learns of it.
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: ACK_WAIT_SECONDS * NANOS_PER_SECOND,
    max_deliver: maxDeliver,
  };
}

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function assertDurableName(name: string): void {
  if (!DURABLE_NAME.test(name)) {
    throw new Error(`durable consumer name "${name}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}
