// A heartbeat on the event loop, so /healthz can report a loop that keeps getting
// stuck. A loop stuck for good cannot answer HTTP at all; the kubelet's probe
// timeout catches that case. What only a heartbeat sees is a loop that stalls
// for seconds again and again yet answers in between: by the time a probe is
// served the stall is over, so the monitor remembers the worst recent one.
import { realClock } from '../base/clock';
import type { Clock, TimerHandle } from '../base/clock';

export interface EventLoopMonitorOptions {
  /** Heartbeat period. */
  intervalMs?: number;
  /** How long a stall is remembered after it ended. */
  windowMs?: number;
  clock?: Clock;
}

export class EventLoopMonitor {
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly clock: Clock;
  private lastBeat = 0;
  private timer: TimerHandle | undefined;
  /** Stalls longer than one interval, oldest first. */
  private stalls: Array<{ at: number; lagMs: number }> = [];

  constructor(opts: EventLoopMonitorOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.windowMs = opts.windowMs ?? 60_000;
    this.clock = opts.clock ?? realClock;
  }

  start(): void {
    if (this.timer) return;
    this.lastBeat = this.clock.now();
    this.schedule();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * How long the loop has been (or recently was) held up beyond the heartbeat
   * period: the ongoing delay, or the worst stall within the window. 0 when healthy
   * or not started.
   */
  stalledForMs(): number {
    if (!this.timer) return 0;
    const now = this.clock.now();
    this.forgetOld(now);
    const ongoing = Math.max(0, now - this.lastBeat - this.intervalMs);
    return this.stalls.reduce((worst, s) => Math.max(worst, s.lagMs), ongoing);
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.beat(), this.intervalMs);
    // The heartbeat must never be what keeps the process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private beat(): void {
    const now = this.clock.now();
    const lagMs = now - this.lastBeat - this.intervalMs;
    // Small jitter is normal; only a delay of a whole period or more is a stall worth remembering.
    if (lagMs >= this.intervalMs) this.stalls.push({ at: now, lagMs });
    this.lastBeat = now;
    this.forgetOld(now);
    this.schedule();
  }

  private forgetOld(now: number): void {
    while (this.stalls.length > 0 && now - this.stalls[0].at > this.windowMs) this.stalls.shift();
  }
}
