// Steps the wall clock of a real controller process (support/clock-step.mjs,
// preloaded through NODE_OPTIONS): Date.now() and `new Date()` jump by the
// offset the test writes, performance.now() and the timers do not, as when NTP
// steps a host's clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControllerProcess } from './test-env';

const PRELOAD = new URL('./clock-step.mjs', import.meta.url).href;

export interface SteppableClock {
  /** The environment to start the process with (extraEnv of TestEnv.startController). */
  env: Record<string, string>;
  /** Sets the process's wall clock to real time + offsetMs, at once. */
  step(proc: ControllerProcess, offsetMs: number): void;
}

/** A wall clock for one process, its offset kept in `<dir>/<name>.clock` (0 at start). */
export function steppableClock(dir: string, name: string): SteppableClock {
  const file = join(dir, `${name}.clock`);
  writeFileSync(file, '0');
  return {
    env: { NODE_OPTIONS: `--import=${PRELOAD}`, EKSPOSE_TEST_CLOCK_OFFSET_FILE: file },
    step(proc, offsetMs) {
      writeFileSync(file, String(offsetMs));
      if (!proc.handle.signal('SIGUSR2')) throw new Error(`${proc.identity} has ended: its clock cannot be stepped`);
    },
  };
}
