// How long a route's status may say "not accepted" before the Deployment is
// told. Right after ekspose writes a route, its Gateway can report a condition
// that is about to change: ResolvedRefs=False BackendNotFound in the second
// before the Service (written in the same reconcile) reaches the Gateway's
// cache. Such a flicker is no news for the user; a condition still False after
// the grace is. Waiting is a requeue, never a sleep: the reconciler returns and
// looks again when the grace is over.
import type { ReconcileResult } from '@ekspose/k8s';

export const STATUS_GRACE_MS = 10_000;

export type GraceVerdict = { kind: 'fine' } | { kind: 'tell' } | { kind: 'wait'; delayMs: number };

export class StatusGrace {
  /** `key` → `topic` → when the problem was first seen (continuously since). */
  private readonly since = new Map<string, Map<string, number>>();

  constructor(private readonly graceMs = STATUS_GRACE_MS) {}

  /** What to do about the key's current status: nothing, tell it now, or look again after `delayMs`. */
  judge(key: string, topic: string, problem: boolean, now: number): GraceVerdict {
    const topics = this.since.get(key);
    if (!problem) {
      topics?.delete(topic);
      if (topics?.size === 0) this.since.delete(key);
      return { kind: 'fine' };
    }
    const first = topics?.get(topic) ?? now;
    if (topics) topics.set(topic, first);
    else this.since.set(key, new Map([[topic, first]]));
    const left = first + this.graceMs - now;
    return left > 0 ? { kind: 'wait', delayMs: left } : { kind: 'tell' };
  }

  /** How soon the key must be reconciled again for a problem still in its grace; undefined when none is. */
  recheckIn(key: string, now: number): number | undefined {
    let soonest: number | undefined;
    for (const first of this.since.get(key)?.values() ?? []) {
      const left = first + this.graceMs - now;
      if (left > 0) soonest = Math.min(soonest ?? left, left);
    }
    return soonest;
  }

  /** The Deployment is gone, or no longer has the object. */
  forget(key: string, topic?: string): void {
    if (topic === undefined) this.since.delete(key);
    else this.judge(key, topic, false, 0);
  }

  /** How many keys have a problem being watched (for tests: nothing is kept for keys that are fine). */
  get size(): number {
    return this.since.size;
  }

  /** A shard range let go: nothing of its keys is kept (their next owner starts afresh). */
  forgetWhere(gone: (key: string) => boolean): void {
    for (const key of [...this.since.keys()]) if (gone(key)) this.forget(key);
  }
}

/** A reconcile's result, brought back no later than `recheckMs` when a status problem is in its grace. */
export function withRecheck(result: ReconcileResult, recheckMs: number | undefined): ReconcileResult {
  if (recheckMs === undefined || result.kind === 'terminal') return result;
  if (result.kind === 'requeueAfter') return { kind: 'requeueAfter', delayMs: Math.min(result.delayMs, recheckMs) };
  return { kind: 'requeueAfter', delayMs: recheckMs };
}
