// Bounded polls: the assertion is the state reached, never a fixed sleep.
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What we were waiting for, for the error. */
  what?: string;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, and
 * returns it. On timeout, throws with the last error or value seen.
 */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, opts: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${opts.what ?? 'condition'}; last: ${detail}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

/**
 * Checks `probe` repeatedly for `durationMs` and fails at the first false:
 * for "stays gone" after the controllers have had time to misbehave.
 */
export async function consistently(probe: () => Promise<boolean> | boolean, durationMs: number, what: string, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline) {
    if (!(await probe())) throw new Error(`expected ${what} to hold for ${durationMs} ms, but it did not`);
    await sleep(intervalMs);
  }
}
