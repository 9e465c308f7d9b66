import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STALL_GRACE_MS, STALL_SLACK_MS, TIMED_OUT, realClock, within } from './clock';
import { ManualClock } from './manual-clock';

describe('ManualClock', () => {
  it('runs due timers in due order, ties in scheduling order, with now() at their due time', () => {
    const clock = new ManualClock({ start: 1000 });
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(['c', clock.now()]), 30);
    clock.setTimeout(() => seen.push(['a', clock.now()]), 10);
    clock.setTimeout(() => seen.push(['b', clock.now()]), 10);
    clock.setTimeout(() => seen.push(['late', clock.now()]), 31);
    clock.advance(30);
    assert.deepEqual(seen, [
      ['a', 1010],
      ['b', 1010],
      ['c', 1030],
    ]);
    assert.equal(clock.now(), 1030);
    assert.equal(clock.pendingTimers, 1);
  });

  it('runs timers scheduled by timers when they fall inside the advance', () => {
    const clock = new ManualClock({ start: 0 });
    const seen: number[] = [];
    const tick = () => {
      seen.push(clock.now());
      clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    clock.advance(35);
    assert.deepEqual(seen, [10, 20, 30]);
    assert.equal(clock.nextDue(), 40);
  });

  it('does not run cleared timers', () => {
    const clock = new ManualClock();
    let ran = false;
    const handle = clock.setTimeout(() => (ran = true), 5);
    clock.clearTimeout(handle);
    clock.advance(10);
    assert.equal(ran, false);
    assert.equal(clock.pendingTimers, 0);
  });

  it('skip moves time without running timers; the next advance runs them late', () => {
    const clock = new ManualClock({ start: 0 });
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 10);
    clock.skip(100);
    assert.deepEqual(seen, []);
    clock.advance(0);
    assert.deepEqual(seen, [100]);
  });

  it('runAll empties the timers and refuses to spin forever', () => {
    const clock = new ManualClock({ start: 0 });
    let count = 0;
    clock.setTimeout(() => clock.setTimeout(() => count++, 50), 50);
    clock.runAll();
    assert.equal(count, 1);
    assert.equal(clock.now(), 100);
    const forever = () => void clock.setTimeout(forever, 1);
    forever();
    assert.throws(() => clock.runAll(100), /still 1 timer/);
  });

  it('advanceAsync lets promise chains started by a timer settle before the next timer', async () => {
    const clock = new ManualClock({ start: 0 });
    const seen: string[] = [];
    clock.setTimeout(async () => {
      await Promise.resolve();
      await Promise.resolve();
      seen.push('first settled');
    }, 10);
    clock.setTimeout(() => seen.push('second'), 10);
    await clock.advanceAsync(10);
    assert.deepEqual(seen, ['first settled', 'second']);
  });
});

describe('realClock', () => {
  it('fires and clears real timers', async () => {
    let cleared = false;
    const handle = realClock.setTimeout(() => (cleared = true), 1);
    realClock.clearTimeout(handle);
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 2));
    assert.equal(cleared, false);
    assert.ok(Math.abs(realClock.now() - Date.now()) < 1000);
  });
});

describe('within', () => {
  const pending = <T>() => {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('gives the value when the work ends in time, TIMED_OUT when the limit passes first', async () => {
    const clock = new ManualClock({ start: 0 });
    const fast = pending<string>();
    const fastResult = within(fast.promise, 100, clock);
    await clock.advanceAsync(50);
    fast.resolve('done');
    assert.equal(await fastResult, 'done');
    assert.equal(clock.pendingTimers, 0, 'the timer is cleared');

    const slow = pending<string>();
    const slowResult = within(slow.promise, 100, clock);
    await clock.advanceAsync(100);
    assert.equal(await slowResult, TIMED_OUT);
  });

  it('after a stall of the process, lets work whose answer came during the stall win over the late timer', async () => {
    const clock = new ManualClock({ start: 0 });
    const work = pending<string>();
    const result = within(work.promise, 100, clock);
    clock.skip(100 + STALL_SLACK_MS + 5000);
    await clock.advanceAsync(0); // the late timer fires first, as it does on a real event loop
    work.resolve('answered during the stall');
    assert.equal(await result, 'answered during the stall');
  });

  it('after a stall, still times out when the work does not end within the grace', async () => {
    const clock = new ManualClock({ start: 0 });
    const work = pending<string>();
    const result = within(work.promise, 100, clock);
    clock.skip(100 + STALL_SLACK_MS + 5000);
    await clock.advanceAsync(STALL_GRACE_MS);
    assert.equal(await result, TIMED_OUT);
    assert.equal(clock.pendingTimers, 0);
  });
});
