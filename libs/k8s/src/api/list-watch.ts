// What a list and a watch are, as the cache consumes them and the API clients provide them.

export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
}
export interface KubeObjectLike {
  metadata?: ObjectMetaLike;
}

export interface ListResult<T> {
  items: T[];
  /** `_continue` as client-node's typed lists name it, `continue` in raw JSON (custom resources). */
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string; shardInfo?: { selector?: string } };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchParams {
  resourceVersion: string;
  allowWatchBookmarks: boolean;
  timeoutSeconds: number;
  labelSelector?: string;
  /** ShardedListAndWatch: only objects whose field hash lies in the selector's ranges (a server without the gate ignores it). */
  shardSelector?: string;
}
/** Starts a watch; `onDone` is called once when it ends (null = closed normally). */
export type WatchFn = (
  params: WatchParams,
  onEvent: (type: WatchEventType, object: unknown) => void,
  onDone: (err: unknown) => void,
) => Promise<{ abort(): void }>;
export interface ListParams {
  labelSelector?: string;
  /** Page size; the server may return fewer. */
  limit?: number;
  /** The token of the previous page. */
  continue?: string;
  shardSelector?: string;
}
export type ListFn<T> = (params: ListParams) => Promise<ListResult<T>>;
