// A wall-clock step (an NTP correction, a VM resumed on another host) injected
// into a real controller process: loaded before the app with
// NODE_OPTIONS=--import=<this file>, it makes Date.now() and `new Date()`
// (no argument) read the real wall time plus an offset in milliseconds, read
// from the file named by EKSPOSE_TEST_CLOCK_OFFSET_FILE at start and again on
// each SIGUSR2. Everything else of Date is the real one (parsing, a given time,
// the prototype, instanceof), and performance.now() and the timers are left
// alone: only the wall clock steps, as it does on a host. See clockStepEnv and
// stepClock in support/clock-step.ts.
import { readFileSync } from 'node:fs';

const file = process.env.EKSPOSE_TEST_CLOCK_OFFSET_FILE;

if (file) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  let offset = 0;
  const read = () => {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      offset = Number.isFinite(value) ? value : 0;
    } catch {
      offset = 0;
    }
  };
  read();
  const now = () => realNow() + offset;
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget);
    },
    // Date() called as a function: the current time as a string.
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return now;
      return Reflect.get(target, prop, receiver);
    },
  });
  process.on('SIGUSR2', read);
}
