// informerFor: an Informer over one resource source, with its logs, restart metric and
// cache transform wired the same way for every controller; with namespaces, one per
// namespace behind one cache (MultiNamespaceCache).
import type { Logger } from 'pino';
import { Informer } from './informer';
import { MultiNamespaceCache, type NamespacePart } from './multi-namespace-cache';
import { isNotFound } from '../api/api-errors';
import type { ResourceSource } from '../api/kube-client';
import type { ControllerMetrics } from '../metrics/metrics';

export interface InformerForOptions<T> {
  log: Logger;
  metrics: Pick<ControllerMetrics, 'informerRestarted'>;
  /** What the cache keeps of each object (see cache-transforms). */
  transform: (obj: T) => T;
  labelSelector?: string;
  /** One shard: its selector, and the filter used when the server ignores it. */
  shard?: { selector: string; accept: (obj: T) => boolean };
  /**
   * List and watch in these namespaces only, one list and watch each (what Roles over them allow);
   * undefined or empty: one list and watch of every namespace.
   */
  namespaces?: readonly string[];
}

type Named<T> = T & { metadata?: { name?: string } };

export function informerFor<T>(source: ResourceSource<T>, opts: InformerForOptions<T>): NamespacePart<Named<T>> {
  const one = (scoped: ResourceSource<T>, namespace?: string): NamespacePart<Named<T>> =>
    new Informer<Named<T>>({
      resource: source.resource,
      list: scoped.list as never,
      watch: scoped.watch,
      labelSelector: opts.labelSelector,
      ...(opts.shard ? { shard: opts.shard as never } : {}),
      transform: opts.transform as never,
      log: opts.log.child(namespace === undefined ? { informer: source.resource } : { informer: source.resource, namespace }),
      onRestart: () => opts.metrics.informerRestarted(source.resource),
    });
  const namespaces = opts.namespaces ?? [];
  if (namespaces.length === 0) return one(source);
  return new MultiNamespaceCache<Named<T>>(source.resource, namespaces, (ns) => one(source.inNamespace(ns), ns));
}

/** A live read that answers undefined for a 404 instead of throwing. */
export async function readOrUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
