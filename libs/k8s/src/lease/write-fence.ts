// The right to write, as one number: until when this replica's Lease (the
// leader Lease, or with shards its member Lease) makes its writes safe. A
// standby or a peer takes over at the earliest a lease duration after it saw
// the last renewal change the Lease; that renewal was sent no earlier than
// when this replica measured it, so counting the renew deadline (shorter than
// the duration) from the send time of the last committed renewal ends the right
// to write before anyone else may start. Measured on the monotonic clock, so a
// wall-clock step (NTP) neither ends it early nor stretches it.
import { type Clock, realClock } from '../base/clock';

/** A write refused because the Lease was not renewed in time: the key is tried again (the renewal may still commit). */
export class FenceDownError extends Error {
  constructor(readonly validUntil: number | undefined, readonly now: number) {
    super(
      validUntil === undefined
        ? 'not written: this replica does not hold its Lease'
        : `not written: this replica's Lease was last renewed too long ago (its right to write ended ${Math.round(now - validUntil)} ms ago)`,
    );
    this.name = 'FenceDownError';
  }
}

export class WriteFence {
  private until: number | undefined;

  constructor(
    private readonly renewDeadlineMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  /** A renewal sent at `sentAt` (monotonic) has committed: writes are safe until the renew deadline after it. */
  renewed(sentAt: number): void {
    // A late answer to an older renewal never moves the fence back.
    this.until = Math.max(this.until ?? Number.NEGATIVE_INFINITY, sentAt + this.renewDeadlineMs);
  }

  /** No Lease decides (leader election off, one replica by design): writes are always allowed. */
  hold(): void {
    this.until = Number.POSITIVE_INFINITY;
  }

  /** The Lease is let go (lost, released, stopped): no write from now, whatever the time. */
  revoke(): void {
    this.until = undefined;
  }

  /** Monotonic time until which writes are safe; undefined when the Lease is not held. */
  get validUntil(): number | undefined {
    return this.until;
  }

  /** Whether a write may go out now. */
  valid(): boolean {
    return this.until !== undefined && this.clock.monotonic() < this.until;
  }

  /** Throws FenceDownError unless valid(): called right before a write goes out, not when the reconcile began. */
  check(): void {
    if (!this.valid()) throw new FenceDownError(this.until, this.clock.monotonic());
  }

  /** The write guard of one leader, in the shape of ShardedWork's: the namespace does not matter, the Lease does. */
  guard(_namespace: string): void {
    this.check();
  }
}
