// A list+watch cache of one resource, cluster-wide, that keeps itself alive.
//
// @kubernetes/client-node's own informer stops for good on any non-410 error
// and can sit on a dead connection without noticing. This one:
//   - restarts after an error with capped exponential backoff (jittered),
//   - asks for bookmarks and a server-side watch timeout, so a healthy watch
//     shows activity at least every `watchTimeoutSeconds`, and a watchdog
//     restarts (relists) a watch that has been silent longer than that,
//   - relists on 410 Gone and emits add/update/delete for what changed,
//   - lists in pages (`limit`/`continue`, 500 a page as client-go's pager),
//     transforming each page as it comes, so a large cluster's whole list
//     response is never held at once.
// The transport (list, watch) and the clock are injected, so tests drive it by hand.
import type { Logger } from 'pino';
import { statusCodeOf } from '../api/api-errors';
import { type Clock, realClock } from '../base/clock';
import type { KubeObjectLike, ListResult, WatchEventType, WatchFn, ListFn } from '../api/list-watch';
// The cache's own contract: what it lists and watches through.
import { diffList, jitteredBackoff, objectKey } from './cache-diff';
export { type CacheDiff, diffList, jitteredBackoff, objectKey } from './cache-diff';
export type { ObjectMetaLike, KubeObjectLike, ListResult, WatchEventType, WatchParams, WatchFn, ListParams, ListFn } from '../api/list-watch';

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

type Handler<T> = (obj: T, old?: T) => void;

/**
 * What controllers read and hear from a cache: an Informer, or a ShardedInformer
 * made of one Informer per hash range this replica holds.
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

export class Informer<T extends KubeObjectLike> implements ObjectCache<T> {
  private readonly opts: Required<Omit<InformerOptions<T>, 'labelSelector' | 'onRestart' | 'transform' | 'listPageSize' | 'shard'>> &
    Pick<InformerOptions<T>, 'labelSelector' | 'onRestart' | 'transform' | 'listPageSize' | 'shard'>;
  private readonly cache = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, Handler<T>[]> = { add: [], update: [], delete: [] };
  private readonly syncWaiters: Array<() => void> = [];
  private resourceVersion = '';
  private running = false;
  private synced = false;
  private generation = 0;
  private attempt = 0;
  private restarts = 0;
  private current?: { abort(): void };
  private retryTimer?: unknown;
  private watchdogTimer?: unknown;
  private lastActivityAt?: number;
  private lastError?: string;
  private failingSince?: number;
  /** Whether the last list's pages echoed the shard selector (see InformerOptions.shard). */
  private serverSide?: boolean;

  constructor(options: InformerOptions<T>) {
    const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.opts = {
      clock: realClock,
      watchTimeoutSeconds,
      silentAfterMs: (watchTimeoutSeconds + 60) * 1000,
      backoffBaseMs: 500,
      // Not client-go's 30 s: after a control-plane outage or upgrade the caches
      // should be current within seconds of the API server's return, and a
      // failing list against an unreachable server costs it nothing.
      backoffMaxMs: 10_000,
      random: Math.random,
      ...options,
    };
  }

  on(event: InformerEvent, handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  status(): InformerStatus {
    return {
      resource: this.opts.resource,
      running: this.running,
      synced: this.synced,
      objects: this.cache.size,
      restarts: this.restarts,
      lastActivityAt: this.lastActivityAt,
      lastError: this.lastError,
      failingSince: this.failingSince,
      ...(this.serverSide === undefined ? {} : { serverSide: this.serverSide }),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // The silence clock starts now, so a first list that never answers is restarted too.
    this.touch();
    this.scheduleWatchdog();
    void this.run(this.generation);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.current?.abort();
    this.current = undefined;
    if (this.retryTimer) this.opts.clock.clearTimeout(this.retryTimer);
    if (this.watchdogTimer) this.opts.clock.clearTimeout(this.watchdogTimer);
  }

  /** Drop the current watch and relist, e.g. when it went silent. */
  restart(reason: string): void {
    if (!this.running) return;
    this.restarts++;
    this.opts.onRestart?.(reason);
    this.opts.log.warn({ resource: this.opts.resource, reason }, 'informer restarting');
    this.generation++;
    this.current?.abort();
    this.current = undefined;
    if (this.retryTimer) this.opts.clock.clearTimeout(this.retryTimer);
    this.resourceVersion = '';
    void this.run(this.generation);
  }

  private touch(): void {
    this.lastActivityAt = this.opts.clock.now();
  }

  private scheduleWatchdog(): void {
    const every = Math.max(1000, Math.floor(this.opts.silentAfterMs / 4));
    this.watchdogTimer = this.opts.clock.setTimeout(() => {
      if (!this.running) return;
      const last = this.lastActivityAt ?? 0;
      // Also covers a list or watch request that never got a response at all.
      if (this.opts.clock.now() - last > this.opts.silentAfterMs) {
        this.restart(`watch silent for more than ${this.opts.silentAfterMs} ms`);
      }
      this.scheduleWatchdog();
    }, every);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj, old);
      } catch (err) {
        this.opts.log.error({ err, resource: this.opts.resource, event }, 'informer handler threw');
      }
    }
  }

  private fail(generation: number, err: unknown, phase: string): void {
    if (generation !== this.generation || !this.running) return;
    if (statusCodeOf(err) === 410) this.resourceVersion = '';
    this.attempt++;
    this.restarts++;
    this.opts.onRestart?.(phase);
    this.lastError = `${phase}: ${err instanceof Error ? err.message : String(err)}`;
    this.failingSince ??= this.opts.clock.now();
    const delay = jitteredBackoff(this.attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs, this.opts.random);
    this.opts.log.warn({ resource: this.opts.resource, phase, err: this.lastError, retryInMs: delay }, 'informer error');
    this.retryTimer = this.opts.clock.setTimeout(() => void this.run(generation), delay);
  }

  private async run(generation: number): Promise<void> {
    if (generation !== this.generation || !this.running) return;
    if (!this.resourceVersion) {
      const listed = await this.listAll(generation);
      if (!listed) return;
      this.applyList(listed.items, listed.resourceVersion);
    }
    let ended = false;
    // The server reports most watch failures as an ERROR event and then closes
    // normally; only 410 (relist) is routine, the rest must back off like any error.
    let failure: Error | undefined;
    const onDone = (err: unknown) => {
      if (ended) return;
      ended = true;
      if (generation !== this.generation || !this.running) return;
      this.current = undefined;
      if (err || failure) return this.fail(generation, err || failure, 'watch');
      this.recovered();
      void this.run(generation);
    };
    try {
      const handle = await this.opts.watch(
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: this.opts.watchTimeoutSeconds,
          labelSelector: this.opts.labelSelector,
          ...(this.opts.shard ? { shardSelector: this.opts.shard.selector } : {}),
        },
        (type, object) => {
          if (generation !== this.generation) return;
          const status = object as { code?: number; message?: string } | undefined;
          if (type === 'ERROR' && status?.code !== 410) {
            failure = Object.assign(new Error(`watch error ${status?.code ?? ''}: ${status?.message ?? ''}`), { code: status?.code });
          }
          this.onWatchEvent(type, object);
        },
        onDone,
      );
      if (generation !== this.generation || ended) handle.abort();
      else this.current = handle;
    } catch (err) {
      onDone(err ?? new Error('watch failed'));
    }
  }

  /**
   * Page by page, each transformed (and with a shard the server ignored, filtered)
   * as it arrives; undefined when the list failed (retry scheduled) or the run is stale.
   */
  private async listAll(generation: number): Promise<{ items: T[]; resourceVersion: string } | undefined> {
    // Page by page, each transformed as it arrives: the raw objects of one page at a time.
    // An expired continue token (410) fails the list, and the retry starts over.
    const items: T[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    const shard = this.opts.shard;
    let serverSide = true;
    do {
      let page: ListResult<T>;
      try {
        page = await this.opts.list({
          labelSelector: this.opts.labelSelector,
          limit: this.opts.listPageSize ?? DEFAULT_LIST_PAGE_SIZE,
          continue: next,
          ...(shard ? { shardSelector: shard.selector } : {}),
        });
      } catch (err) {
        this.fail(generation, err, 'list');
        return undefined;
      }
      if (generation !== this.generation || !this.running) return undefined;
      const transform = this.opts.transform;
      // Every page says whether the server filtered it: the gate can change between pages of one list (an API server rolled mid-list).
      const filterHere = shard !== undefined && page.metadata?.shardInfo?.selector !== shard.selector;
      if (filterHere) serverSide = false;
      for (const raw of page.items ?? []) {
        if (filterHere && !shard.accept(raw)) continue;
        items.push(transform ? transform(raw) : raw);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      next = page.metadata?._continue || page.metadata?.continue || undefined;
    } while (next);
    if (shard) this.serverSide = serverSide;
    return { items, resourceVersion };
  }

  private applyList(items: T[], resourceVersion: string): void {
    const diff = diffList(this.cache, items);
    for (const obj of diff.deleted) this.cache.delete(objectKey(obj));
    for (const obj of diff.added) this.cache.set(objectKey(obj), obj);
    for (const { obj } of diff.updated) this.cache.set(objectKey(obj), obj);
    this.resourceVersion = resourceVersion;
    // Only a working watch counts as recovered: a list that succeeds before a
    // watch that keeps failing must not reset the backoff into a hot loop.
    this.touch();
    const firstSync = !this.synced;
    this.synced = true;
    for (const obj of diff.deleted) this.emit(INFORMER_DELETE, obj);
    for (const obj of diff.added) this.emit(INFORMER_ADD, obj);
    for (const { obj, old } of diff.updated) this.emit(INFORMER_UPDATE, obj, old);
    if (firstSync) for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private recovered(): void {
    this.attempt = 0;
    this.failingSince = undefined;
    this.lastError = undefined;
    this.touch();
  }

  private onWatchEvent(type: WatchEventType, object: unknown): void {
    this.touch();
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string };
      if (status?.code === 410) this.resourceVersion = '';
      this.lastError = `watch error ${status?.code ?? ''}: ${status?.message ?? ''}`;
      return;
    }
    const raw = object as T;
    const rv = raw?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (this.failingSince !== undefined) this.recovered();
    if (type === 'BOOKMARK') return;
    // A watch says nothing of whether the selector was applied (an HA control plane half-way through
    // enabling the gate may answer the list with it and the watch without): every event is filtered,
    // at the cost of one hash. An object outside the shard is never cached, so never deleted either.
    if (this.opts.shard && !this.opts.shard.accept(raw)) return;
    const obj = this.opts.transform ? this.opts.transform(raw) : raw;
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit(INFORMER_DELETE, obj);
      return;
    }
    this.cache.set(key, obj);
    if (!old) this.emit(INFORMER_ADD, obj);
    else if (old.metadata?.resourceVersion !== rv) this.emit(INFORMER_UPDATE, obj, old);
  }
}
