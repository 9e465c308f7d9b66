// The cache's bookkeeping as pure functions, apart from the Informer that does the I/O.
import type { KubeObjectLike } from '../api/list-watch';

export function objectKey(obj: KubeObjectLike): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

/** Exponential backoff with full jitter in [delay/2, delay]. Pure. */
export function jitteredBackoff(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay / 2 + (random() * delay) / 2);
}

export interface CacheDiff<T> {
  added: T[];
  updated: Array<{ obj: T; old: T }>;
  deleted: T[];
}

/** What a relist changed compared with the cache. Pure. */
export function diffList<T extends KubeObjectLike>(cache: ReadonlyMap<string, T>, items: T[]): CacheDiff<T> {
  const diff: CacheDiff<T> = { added: [], updated: [], deleted: [] };
  const seen = new Set<string>();
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) diff.added.push(obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) diff.updated.push({ obj, old });
  }
  for (const [key, old] of cache) if (!seen.has(key)) diff.deleted.push(old);
  return diff;
}
