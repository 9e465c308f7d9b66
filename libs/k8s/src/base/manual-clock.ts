// A clock for tests: time moves only when the test says so. Kept out of the
// lib's production exports (imported as @ekspose/k8s/manual-clock).
import type { Clock, TimerHandle } from './clock';

interface ManualTimer {
  due: number;
  /** Insertion order breaks ties between timers due at the same instant. */
  seq: number;
  fn: () => void;
}

/** Lets callers settle promise chains started by timers before looking at the result. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock whose time moves only when the test says so. Timers run in due order,
 * including timers that timers schedule, as long as they fall inside the advance.
 */
export class ManualClock implements Clock {
  /** Monotonic time; timers are due on it. */
  private current: number;
  /** Wall time minus monotonic time: moved only by stepWall, as NTP steps a node's clock. */
  private wallOffset = 0;
  private seq = 0;
  private readonly timers = new Map<TimerHandle, ManualTimer>();

  constructor(opts: { start?: number } = {}) {
    // A realistic epoch, so code that turns now() into a Date gets a sensible one.
    this.current = opts.start ?? Date.UTC(2025, 0, 1);
  }

  now(): number {
    return this.current + this.wallOffset;
  }

  /** Starts equal to now(); advance, skip and timers move both, stepWall only the wall. */
  monotonic(): number {
    return this.current;
  }

  /** Steps the wall clock (an NTP correction): now() jumps by ms, monotonic() and the timers do not move. */
  stepWall(ms: number): void {
    this.wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = { id: ++this.seq };
    this.timers.set(handle, { due: this.current + Math.max(0, ms), seq: handle.id, fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  /** Timers not yet run or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the next timer is due, or null when none is pending. */
  nextDue(): number | null {
    return this.next(Number.POSITIVE_INFINITY)?.[1].due ?? null;
  }

  /** Moves time forward by ms, running every timer that becomes due, synchronously. */
  advance(ms: number): void {
    const target = this.current + Math.max(0, ms);
    for (let found = this.next(target); found; found = this.next(target)) {
      this.fire(found);
    }
    this.current = target;
  }

  /**
   * Like advance, but lets the promise chains each timer starts settle before
   * running the next one, so async code driven by timers behaves as it would
   * with real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await settle();
    for (let found = this.next(target); found; found = this.next(target)) {
      this.fire(found);
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Runs timers until none is left; fails instead of spinning on a timer that reschedules itself forever. */
  runAll(maxTimers = 10_000): void {
    for (let count = 0; count < maxTimers; count++) {
      const found = this.next(Number.POSITIVE_INFINITY);
      if (!found) return;
      this.fire(found);
    }
    throw new Error(`ManualClock.runAll: still ${this.timers.size} timer(s) after running ${maxTimers}`);
  }

  /**
   * Moves time forward without running any timer, as a blocked event loop would:
   * the timers are overdue and run at the next advance.
   */
  skip(ms: number): void {
    this.current += Math.max(0, ms);
  }

  private next(limit: number): [TimerHandle, ManualTimer] | undefined {
    let best: [TimerHandle, ManualTimer] | undefined;
    for (const entry of this.timers) {
      const timer = entry[1];
      if (timer.due > limit) continue;
      if (!best || timer.due < best[1].due || (timer.due === best[1].due && timer.seq < best[1].seq)) best = entry;
    }
    return best;
  }

  private fire([handle, timer]: [TimerHandle, ManualTimer]): void {
    this.timers.delete(handle);
    // Overdue timers (after skip) run at the current time, never back in the past.
    this.current = Math.max(this.current, timer.due);
    timer.fn();
  }
}
