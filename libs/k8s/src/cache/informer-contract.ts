// What an informer is to its users: its events, options, status, and the
// read side controllers use (ObjectCache), apart from the class that does the I/O.
import type { Logger } from 'pino';
import type { Clock } from '../base/clock';
import type { ListFn, WatchFn } from '../api/list-watch';

export const INFORMER_ADD = 'add';
export const INFORMER_UPDATE = 'update';
export const INFORMER_DELETE = 'delete';
export type InformerEvent = typeof INFORMER_ADD | typeof INFORMER_UPDATE | typeof INFORMER_DELETE;

/** client-go's pager default. */
export const DEFAULT_LIST_PAGE_SIZE = 500;

export interface InformerOptions<T> {
  /** For logs and metrics, e.g. `deployments`. */
  resource: string;
  list: ListFn<T>;
  watch: WatchFn;
  labelSelector?: string;
  log: Logger;
  clock?: Clock;
  watchTimeoutSeconds?: number;
  /** Restart a watch with no event, bookmark or reconnect for this long. */
  silentAfterMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  onRestart?: (reason: string) => void;
  random?: () => number;
  /**
   * Applied to every object before it is cached and handed to handlers, as
   * client-go's TransformFunc: drop what the controller never reads, so the
   * cache of a large cluster stays small. Must not mutate its argument.
   */
  transform?: (obj: T) => T;
  /** Objects per list page; default {@link DEFAULT_LIST_PAGE_SIZE}. */
  listPageSize?: number;
  /**
   * Lists and watches only the objects of these hash ranges (a shard). A list
   * page whose `metadata.shardInfo` does not echo the selector came from a
   * server that ignored it: then `accept` filters that page and every watch
   * event on this side, with the same hash.
   */
  shard?: { selector: string; accept: (obj: T) => boolean };
}

export interface InformerStatus {
  resource: string;
  running: boolean;
  synced: boolean;
  objects: number;
  restarts: number;
  lastActivityAt?: number;
  lastError?: string;
  /** Since when the informer has been failing to list/watch, if it is. */
  failingSince?: number;
  /** A sharded informer: whether the API server applied its shard selector (false: filtered here); absent when not sharded or not listed yet. */
  serverSide?: boolean;
}

/**
 * What controllers read and hear from a cache: an Informer, or a ShardedInformer
 * whose one Informer per kind serves the hash ranges this replica holds.
 */
export interface ObjectCache<T> {
  on(event: InformerEvent, handler: (obj: T, old?: T) => void): void;
  get(namespace: string, name: string): T | undefined;
  list(): T[];
  readonly hasSynced: boolean;
  waitForSync(): Promise<void>;
  status(): InformerStatus;
  start(): void;
  stop(): Promise<void>;
}
