// Deployments refused a host and path because an older object holds it: they
// get it as soon as the holder lets go of it (deleted, moved to another host or
// path, or its reservation dropped), rather than at the next resync. One entry
// per Deployment at most: waiting for another host replaces the old entry, and
// a Deployment that got its host, stopped asking or is gone is forgotten.
import { type HostPath, hostPathKey } from './host-conflict';

export class HostWaitList {
  private readonly waiting = new Map<string, Set<string>>();
  private readonly byKey = new Map<string, string>();

  wait(key: string, host: string, path: string): void {
    const hp = hostPathKey({ host, path });
    if (this.byKey.get(key) === hp) return;
    this.forget(key);
    let keys = this.waiting.get(hp);
    if (!keys) this.waiting.set(hp, (keys = new Set()));
    keys.add(key);
    this.byKey.set(key, hp);
  }

  /** The keys waiting for any of these host/paths, which are now free; each is told once. */
  release(freed: Iterable<HostPath>): string[] {
    const keys: string[] = [];
    for (const claim of freed) {
      const hp = hostPathKey(claim);
      for (const key of this.waiting.get(hp) ?? []) {
        keys.push(key);
        this.byKey.delete(key);
      }
      this.waiting.delete(hp);
    }
    return keys;
  }

  /** The Deployment no longer waits (it got the host, wants another, no route, or is gone). */
  forget(key: string): void {
    const hp = this.byKey.get(key);
    if (hp === undefined) return;
    this.byKey.delete(key);
    const keys = this.waiting.get(hp);
    keys?.delete(key);
    if (keys?.size === 0) this.waiting.delete(hp);
  }

  /** Deployments waiting: bounded by the live Deployments held back by a host. */
  get size(): number {
    return this.byKey.size;
  }

  /** A shard range let go: nothing of its keys is kept (their next owner starts afresh). */
  forgetWhere(gone: (key: string) => boolean): void {
    for (const key of [...this.byKey.keys()]) if (gone(key)) this.forget(key);
  }
}
