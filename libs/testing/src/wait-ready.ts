import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessHandle } from './process-handle';

/**
 * Polls `ready` (true, or why not) until it holds; fails at once if the
 * process exits, and after `timeoutMs`, each time with the process's log tail.
 */
export async function waitUntilReady(handle: ProcessHandle, ready: () => Promise<true | string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let why: string;
  for (;;) {
    if (!handle.running) {
      const exit = handle.exit;
      throw new Error(
        `${handle.name} exited (code ${exit?.code}, signal ${exit?.signal}) before it was ready; last lines of ${handle.logFile}:\n${handle.logTail()}`,
      );
    }
    try {
      const result = await ready();
      if (result === true) return;
      why = result;
    } catch (error) {
      why = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${handle.name} not ready after ${timeoutMs}ms (${why}); last lines of ${handle.logFile}:\n${handle.logTail()}`);
    }
    await sleep(100);
  }
}
