// One cache over a fixed list of namespaces, made of one list and watch per
// namespace (controller-runtime's multi-namespace cache): what a controller
// whose rights are Roles in those namespaces, and no ClusterRole, can read.
// EKSPOSE_WATCH_NAMESPACES set means this; unset, one cluster-wide informer.
//
// Reads go to the namespace's own cache (a namespace not listed: nothing);
// events come from every part; synced once every part has listed. A part that
// cannot list (its Role missing: 403) keeps the whole unsynced, and its status
// says which namespace, so /readyz names what to fix.
import type { InformerEvent, InformerStatus, ObjectCache } from './informer-contract';

type Handler<T> = (obj: T, old?: T) => void;
type Shard<T> = { selector: string; accept: (obj: T) => boolean };

/** What each part is: an Informer (list+watch of one namespace), resharded with the whole. */
export interface NamespacePart<T> extends ObjectCache<T> {
  setShard(shard: Shard<T>): void;
  relist(): Promise<void>;
  clear(): void;
}

export class MultiNamespaceCache<T> implements ObjectCache<T> {
  private readonly parts: ReadonlyMap<string, NamespacePart<T>>;

  constructor(
    /** For logs and /readyz, e.g. `services`. */
    readonly resource: string,
    namespaces: readonly string[],
    make: (namespace: string) => NamespacePart<T>,
  ) {
    if (namespaces.length === 0) throw new Error(`${resource}: a multi-namespace cache needs at least one namespace`);
    this.parts = new Map([...new Set(namespaces)].map((ns) => [ns, make(ns)]));
  }

  /** The namespaces listed and watched, in the order given. */
  get namespaces(): string[] {
    return [...this.parts.keys()];
  }

  on(event: InformerEvent, handler: Handler<T>): void {
    for (const part of this.parts.values()) part.on(event, handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.parts.get(namespace)?.get(namespace, name);
  }

  list(): T[] {
    return [...this.parts.values()].flatMap((part) => part.list());
  }

  get hasSynced(): boolean {
    return [...this.parts.values()].every((part) => part.hasSynced);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.parts.values()].map((part) => part.waitForSync()));
  }

  /** The parts summed; an error is the first failing namespace's, named. */
  status(): InformerStatus {
    const each = [...this.parts].map(([ns, part]) => [ns, part.status()] as const);
    const failing = each.filter(([, s]) => s.lastError !== undefined);
    const failingSince = failing.map(([, s]) => s.failingSince).filter((t) => t !== undefined);
    const activity = each.map(([, s]) => s.lastActivityAt).filter((t) => t !== undefined);
    const serverSide = each.map(([, s]) => s.serverSide).filter((v) => v !== undefined);
    return {
      resource: this.resource,
      running: each.every(([, s]) => s.running),
      synced: each.every(([, s]) => s.synced),
      objects: each.reduce((n, [, s]) => n + s.objects, 0),
      restarts: each.reduce((n, [, s]) => n + s.restarts, 0),
      ...(activity.length > 0 ? { lastActivityAt: Math.max(...activity) } : {}),
      ...(failing.length > 0 ? { lastError: `namespace ${failing[0]![0]}: ${failing[0]![1].lastError}` } : {}),
      ...(failingSince.length > 0 ? { failingSince: Math.min(...failingSince) } : {}),
      ...(serverSide.length === each.length ? { serverSide: serverSide.every(Boolean) } : {}),
    };
  }

  start(): void {
    for (const part of this.parts.values()) part.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.parts.values()].map((part) => part.stop()));
  }

  setShard(shard: Shard<T>): void {
    for (const part of this.parts.values()) part.setShard(shard);
  }

  async relist(): Promise<void> {
    await Promise.all([...this.parts.values()].map((part) => part.relist()));
  }

  clear(): void {
    for (const part of this.parts.values()) part.clear();
  }
}
