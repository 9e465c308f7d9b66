// Time is injected everywhere something waits, so tests can drive it by hand
// instead of sleeping.

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const TIMED_OUT = Symbol('timed out');

/**
 * Waits for `work` at most `ms` on the clock: its value, or TIMED_OUT. A
 * rejection is passed on. The timer is cleared either way, so nothing is left
 * to keep the process alive.
 */
export function within<T>(work: Promise<T>, ms: number, clock: Clock = realClock): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => resolve(TIMED_OUT), ms);
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
