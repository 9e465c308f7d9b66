// Questions asked of the stream's history for one namespace/name: "is there a
// deployment.deleted record for this uid?" (docs/design.md §3.4) and "was this kind of
// object ever made for this uid?" (a deployment.exposed record). Answers come
// from JetStream's direct get (the newest record first, then the others); 'unknown' means NATS could
// not be asked, and the caller decides from the live API alone and says so.
import { jetstreamManager } from '@nats-io/jetstream';
import type { StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type Clock, LruCache } from '@ekspose/k8s';
import { errorText, isStreamLost } from './nats-errors';
import { decodeEvent } from './schemas';
import type { EventPayload } from './schemas';
import { STREAM_NAME, subjectFor } from './subjects';
import type { EventKind } from './subjects';

export type DeletionAnswer = 'deleted' | 'not-deleted' | 'unknown';
export type ExposureAnswer = 'exposed' | 'not-exposed' | 'unknown';
/** The objects a deployment.exposed record can name. */
export type ExposedObject = 'service' | 'ingress' | 'httproute';

export const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;
/** Older records of one ns/name read before giving up with 'unknown'. */
const MAX_RECORDS_SCANNED = 256;

export interface RecordLookupOptions {
  /** The connection while the bus is connected, else undefined. */
  connection: () => NatsConnection | undefined;
  /** Told when JetStream stopped answering for the stream. */
  streamLost: (reason: string) => void;
  log: Logger;
  clock: Clock;
  /** How many deployment.deleted uids are remembered in memory. */
  deletedUidCapacity: number;
}

type Scan = 'found' | 'not-found' | 'unknown';

export class RecordLookup {
  private readonly knownDeletions: LruCache<true>;

  constructor(private readonly opts: RecordLookupOptions) {
    this.knownDeletions = new LruCache({ capacity: opts.deletedUidCapacity });
  }

  /** A deletion seen on the stream (published or consumed): a uid is never reused, so it stays true. */
  rememberDeleted(namespace: string, name: string, uid: string): void {
    // Neither a namespace nor a name can contain '/'.
    this.knownDeletions.set(`${namespace}/${name}/${uid}`, true);
  }

  async wasDeploymentDeleted(namespace: string, name: string, uid: string, timeoutMs = DEFAULT_LOOKUP_TIMEOUT_MS): Promise<DeletionAnswer> {
    if (this.knownDeletions.has(`${namespace}/${name}/${uid}`)) return 'deleted';
    const scan = await this.scan('deployment.deleted', namespace, name, timeoutMs, (record) => record.uid === uid);
    if (scan === 'found') this.rememberDeleted(namespace, name, uid);
    return scan === 'found' ? 'deleted' : scan === 'not-found' ? 'not-deleted' : 'unknown';
  }

  /** Whether a deployment.exposed record says ekspose made this object for this Deployment uid. */
  async wasExposed(
    namespace: string,
    name: string,
    uid: string,
    object: ExposedObject,
    timeoutMs = DEFAULT_LOOKUP_TIMEOUT_MS,
  ): Promise<ExposureAnswer> {
    const scan = await this.scan('deployment.exposed', namespace, name, timeoutMs, (record) => record.uid === uid && (record[object] ?? null) !== null);
    return scan === 'found' ? 'exposed' : scan === 'not-found' ? 'not-exposed' : 'unknown';
  }

  /** Reads the records of one kind for ns/name, newest first, until one matches. */
  private async scan<K extends EventKind>(
    kind: K,
    namespace: string,
    name: string,
    timeoutMs: number,
    matches: (record: EventPayload<K>) => boolean,
  ): Promise<Scan> {
    const nc = this.opts.connection();
    if (!nc) return 'unknown';
    const subject = subjectFor(kind, namespace, name);
    const deadline = this.opts.clock.now() + timeoutMs;
    const decoded = (record: StoredMsg) => {
      const result = decodeEvent(kind, record.subject, record.data);
      return result.ok && matches(result.event);
    };
    try {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
      const last = await jsm.direct.getMessage(STREAM_NAME, { last_by_subj: subject });
      if (!last) return 'not-found';
      if (decoded(last)) return 'found';
      // Usually the last record is the one asked about; an older uid's record can
      // land later (a takeover publishing for a uid it found gone), so read back.
      let from = 1;
      for (let scanned = 0; ; scanned++) {
        if (scanned >= MAX_RECORDS_SCANNED || this.opts.clock.now() > deadline) {
          this.opts.log.warn({ kind, namespace, name, scanned }, 'too many records to check; answering unknown');
          return 'unknown';
        }
        const record = await jsm.direct.getMessage(STREAM_NAME, { seq: from, next_by_subj: subject });
        if (!record || record.seq >= last.seq) return 'not-found';
        if (decoded(record)) return 'found';
        from = record.seq + 1;
      }
    } catch (err) {
      this.opts.log.warn({ kind, namespace, name, error: errorText(err) }, 'could not look up records');
      if (isStreamLost(err)) this.opts.streamLost(errorText(err));
      return 'unknown';
    }
  }
}
