// A token bucket: `burst` tokens, refilled at `qps` per second. Pure apart
// from the times it is given. The work queue paces its retries with it, the
// Event recorder the Events it held back during a burst.

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;

  constructor(opts: { qps: number; burst: number; now: number }) {
    if (!(opts.qps > 0) || !(opts.burst >= 1)) throw new Error(`TokenBucket: qps must be > 0 and burst >= 1`);
    this.qps = opts.qps;
    this.burst = opts.burst;
    this.tokens = opts.burst;
    this.last = opts.now;
  }

  /**
   * Reserves the next token, going into debt when there is none (as
   * golang.org/x/time/rate's Reserve does), and returns how many ms until it is
   * due: 0 while the burst lasts, then 1/qps apart for each reservation.
   */
  reserve(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  /**
   * Takes a token if one is there and returns 0; otherwise takes nothing and
   * returns how many ms until one is (for a caller that may not need it then).
   */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.qps));
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
      this.last = now;
    }
  }
}
