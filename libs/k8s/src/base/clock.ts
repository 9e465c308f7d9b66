// Time is injected everywhere something waits, so tests can drive it by hand
// instead of sleeping.

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the epoch: wall time, which NTP may step. Only for what goes into an object (a Lease's renewTime) or a log. */
  now(): number;
  /**
   * Milliseconds on a clock that never steps (performance.now()): every
   * duration that decides something (a deadline, a fence, a Lease's expiry as
   * this replica judges it) is measured on it, as client-go does with Go's
   * monotonic time.
   */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const TIMED_OUT = Symbol('timed out');

/** How late a timer must fire to count as the process having been stalled (GC, SIGSTOP, a starved host). */
export const STALL_SLACK_MS = 1000;
/** After a stall, how long the work still gets: its answer may be waiting in a socket the stalled loop has not read. */
export const STALL_GRACE_MS = 1000;

/**
 * Waits for `work` at most `ms` on the clock: its value, or TIMED_OUT. A
 * rejection is passed on. The timer is cleared either way, so nothing is left
 * to keep the process alive.
 *
 * The limit counts time this process could run. When the timer fires late
 * because the event loop was stalled, the work may well have finished during
 * the stall; timers run before the loop reads sockets, so it gets
 * STALL_GRACE_MS more before it counts as timed out.
 */
export function within<T>(work: Promise<T>, ms: number, clock: Clock = realClock): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const due = clock.monotonic() + ms;
    let timer = clock.setTimeout(() => {
      if (clock.monotonic() - due > STALL_SLACK_MS) timer = clock.setTimeout(() => resolve(TIMED_OUT), STALL_GRACE_MS);
      else resolve(TIMED_OUT);
    }, ms);
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
