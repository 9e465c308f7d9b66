// informerFor: an Informer over one resource source, with its logs, restart metric and
// cache transform wired the same way for every controller.
import type { Logger } from 'pino';
import { Informer } from './informer';
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
}

export function informerFor<T>(source: ResourceSource<T>, opts: InformerForOptions<T>): Informer<T & { metadata?: { name?: string } }> {
  return new Informer({
    resource: source.resource,
    list: source.list as never,
    watch: source.watch,
    labelSelector: opts.labelSelector,
    ...(opts.shard ? { shard: opts.shard as never } : {}),
    transform: opts.transform as never,
    log: opts.log.child({ informer: source.resource }),
    onRestart: () => opts.metrics.informerRestarted(source.resource),
  });
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
