// Deployments refused a host and path because an older object holds it: they
// get it as soon as the holder goes, rather than at the next resync.
import type { HostClaim } from './host-conflict';

const hostPathKey = (host: string, path: string) => `${host} ${path}`;

export class HostWaitList {
  private readonly waiting = new Map<string, Set<string>>();

  wait(key: string, host: string, path: string): void {
    const hp = hostPathKey(host, path);
    let keys = this.waiting.get(hp);
    if (!keys) this.waiting.set(hp, (keys = new Set()));
    keys.add(key);
  }

  /** The keys waiting for any of these claims, which are now free; each is told once. */
  release(claims: Iterable<Pick<HostClaim, 'host' | 'path'>>): string[] {
    const keys: string[] = [];
    for (const claim of claims) {
      const hp = hostPathKey(claim.host, claim.path);
      keys.push(...(this.waiting.get(hp) ?? []));
      this.waiting.delete(hp);
    }
    return keys;
  }
}
