// Every control plane this process started and has not stopped, so that an
// exiting or interrupted test process stops them too, and the folders of planes
// whose process died without cleaning up (SIGKILL, OOM) are removed later.
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPidAlive, killAllProcesses } from './process-handle';

export interface StoppablePlane {
  stop(): Promise<void>;
  stopSync(): void;
}

/** Planes not yet stopped, so that an exiting or interrupted process can clean them up. */
export const planes = new Set<StoppablePlane>();
let exitHookInstalled = false;
let signalHookInstalled = false;

export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const plane of planes) plane.stopSync();
  });
}

export function installSignalHook(): void {
  if (signalHookInstalled) return;
  signalHookInstalled = true;
  let cleaningUp = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A test runner often follows Ctrl-C's SIGINT with its own SIGTERM: keep cleaning up (bounded) through both.
    if (cleaningUp) return;
    cleaningUp = true;
    const stopping = Promise.allSettled([...planes].map((plane) => plane.stop()));
    Promise.race([stopping, sleep(10_000)]).finally(() => {
      killAllProcesses();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Our listener is gone, so this ends the process the way the signal would have (unless someone else listens).
      process.kill(process.pid, signal);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

export const OWNER_FILE = 'owner.pid';

/** Removes the folders of planes whose process died without cleaning up (SIGKILL, OOM). */
export async function pruneAbandonedPlanes(): Promise<void> {
  const base = tmpdir();
  const names = await readdir(base).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith('ekspose-cp-'))
      .map(async (name) => {
        const dir = join(base, name);
        const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
        if (Number.isInteger(owner) && owner > 0 && !isPidAlive(owner)) {
          await rm(dir, { recursive: true, force: true }).catch(() => undefined);
        }
      }),
  );
}

