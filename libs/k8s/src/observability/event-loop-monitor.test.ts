import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../base/manual-clock';
import { EventLoopMonitor } from './event-loop-monitor';

describe('EventLoopMonitor', () => {
  it('reports 0 while the heartbeat keeps its period', () => {
    const clock = new ManualClock();
    const monitor = new EventLoopMonitor({ intervalMs: 500, clock });
    monitor.start();
    clock.advance(10_000);
    assert.equal(monitor.stalledForMs(), 0);
    monitor.stop();
  });

  it('reports an ongoing stall as it grows', () => {
    const clock = new ManualClock();
    const monitor = new EventLoopMonitor({ intervalMs: 500, clock });
    monitor.start();
    clock.advance(1000);
    clock.skip(12_000); // the loop is blocked: no timer runs
    assert.equal(monitor.stalledForMs(), 11_500);
    monitor.stop();
  });

  it('remembers a stall after the loop recovered, for the window only', () => {
    const clock = new ManualClock();
    const monitor = new EventLoopMonitor({ intervalMs: 500, windowMs: 60_000, clock });
    monitor.start();
    clock.advance(500);
    clock.skip(15_000); // the beat due at 1000 runs at 15500
    clock.advance(0); // the overdue heartbeat runs first, as it would before serving a probe
    assert.equal(monitor.stalledForMs(), 14_500);
    clock.advance(60_000);
    assert.equal(monitor.stalledForMs(), 14_500);
    clock.advance(100); // between two beats, just past the window
    assert.equal(monitor.stalledForMs(), 0);
    monitor.stop();
  });

  it('ignores jitter shorter than one period and reports 0 when stopped', () => {
    const clock = new ManualClock();
    const monitor = new EventLoopMonitor({ intervalMs: 500, clock });
    monitor.start();
    clock.advance(500);
    clock.skip(800); // the beat due at 1000 runs at 1300: 300 ms late
    clock.advance(0);
    assert.equal(monitor.stalledForMs(), 0);
    clock.skip(20_000);
    monitor.stop();
    assert.equal(monitor.stalledForMs(), 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('runs on the real clock without keeping the process alive', () => {
    const monitor = new EventLoopMonitor({ intervalMs: 50 });
    monitor.start();
    assert.equal(monitor.stalledForMs(), 0);
    monitor.stop();
  });
});
