// A Deployment held back by a foreign object of its name (one ekspose does not
// own) is looked at again with a growing delay, capped at a minute: ekspose
// watches only managed objects, so it does not see the foreign one go, and the
// Deployment must be served within a minute of the conflict ending.
import { backoffDelay } from '@ekspose/k8s';

export const CONFLICT_RETRY_BASE_MS = 5_000;
export const CONFLICT_RETRY_MAX_MS = 60_000;

export class ConflictRetry {
  private readonly attempts = new Map<string, number>();

  /** The delay before this key is looked at again; each call in a row doubles it, up to the cap. */
  next(key: string): number {
    const n = this.attempts.get(key) ?? 0;
    this.attempts.set(key, n + 1);
    return backoffDelay(n, CONFLICT_RETRY_BASE_MS, CONFLICT_RETRY_MAX_MS);
  }

  /** The conflict is over (or the Deployment is gone). */
  clear(key: string): void {
    this.attempts.delete(key);
  }
}
