// When something held back for a busy work queue may go: the pacing the
// EventRecorder's Normal Events and the deployment-controller's NATS records
// share. Nothing goes while the queue has work, until the oldest one held has
// waited `overdueMs` (then one at `busyQps`); once the queue has been idle for
// `quietMs`, they go at `qps` (after a pause, `burst` at once). Pure: the
// caller holds the items and sets the timer.
import type { BusySignal } from './event-contract';
import { TokenBucket } from '../base/token-bucket';

export interface YieldPacing {
  /** The queue idle this long before held items go: a burst is over. */
  quietMs: number;
  /** Items per second once quiet, and how many at once after a pause. */
  qps: number;
  burst: number;
  /** One held this long goes even while the queue is busy, at busyQps. */
  overdueMs: number;
  busyQps: number;
}

export class YieldPacer {
  private readonly quietBucket: TokenBucket;
  private readonly busyBucket: TokenBucket;
  /** Since when the queue has been idle; undefined while it is busy (or when there is no queue to yield to). */
  private idleSince: number | undefined;

  /** `now` is the clock the held items' times are on; `changed` hears the queue turn busy or idle. */
  constructor(
    private readonly pacing: YieldPacing,
    private readonly now: () => number,
    yieldTo: BusySignal | undefined,
    changed: () => void,
  ) {
    const start = now();
    this.quietBucket = new TokenBucket({ qps: pacing.qps, burst: pacing.burst, now: start });
    this.busyBucket = new TokenBucket({ qps: pacing.busyQps, burst: 1, now: start });
    if (yieldTo) {
      this.idleSince = yieldTo.busy ? undefined : start;
      yieldTo.onBusyChange((busy) => {
        this.idleSince = busy ? undefined : this.now();
        changed();
      });
    }
  }

  /** How long until the next held item may go (0: now, and its token is taken); `oldestSince`: when the one held longest was held. */
  waitForNext(oldestSince: number): number {
    const now = this.now();
    if (this.idleSince !== undefined) {
      const quiet = this.idleSince + this.pacing.quietMs - now;
      return quiet > 0 ? quiet : this.quietBucket.take(now);
    }
    const overdue = oldestSince + this.pacing.overdueMs - now;
    return overdue > 0 ? overdue : this.busyBucket.take(now);
  }
}
