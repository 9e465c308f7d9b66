// The Normal Events an EventRecorder holds back while the controller works
// through a burst. Memory is bounded by what they are about, not by how often
// they are told: one per involved object and reason, a newer one taking the
// older one's place (its message and time; a repeat of the same message counts
// up instead), so a Deployment changed ten times in a burst is told once, as it
// is now. Oldest first, by when the first of the pair was held. Pure: no I/O,
// no clock.
import type { EventReason, InvolvedObject } from './event-recorder';

export interface HeldEvent {
  obj: InvolvedObject;
  reason: EventReason;
  message: string;
  /** When the newest occurrence happened (the Event's time, or its series' last observed time). */
  at: number;
  /** When the first occurrence of this message happened (a series' Event time). */
  first: number;
  /** When the first one of this object and reason was held: what "held too long" is measured from. */
  since: number;
  /** Occurrences of this very message while held (2 or more: the Event is written with a series). */
  count: number;
}

export class HeldEvents {
  private readonly byKey = new Map<string, HeldEvent>();

  /** One key per involved object and reason. */
  static keyOf(obj: InvolvedObject, reason: EventReason): string {
    return `${obj.uid}\u0000${reason}`;
  }

  get size(): number {
    return this.byKey.size;
  }

  has(obj: InvolvedObject, reason: EventReason): boolean {
    return this.byKey.has(HeldEvents.keyOf(obj, reason));
  }

  /** Holds the Event; one already held for the object and reason is replaced (it keeps its place in line). */
  hold(obj: InvolvedObject, reason: EventReason, message: string, at: number): 'held' | 'replaced' | 'repeated' {
    const key = HeldEvents.keyOf(obj, reason);
    const older = this.byKey.get(key);
    if (!older) {
      this.byKey.set(key, { obj, reason, message, at, first: at, since: at, count: 1 });
      return 'held';
    }
    const same = older.message === message;
    // Map.set on an existing key keeps its insertion order: the line is by first hold.
    this.byKey.set(key, { obj, reason, message, at, first: same ? older.first : at, since: older.since, count: same ? older.count + 1 : 1 });
    return same ? 'repeated' : 'replaced';
  }

  /** The one held longest, left in place. */
  oldest(): HeldEvent | undefined {
    for (const event of this.byKey.values()) return event;
    return undefined;
  }

  /** Takes the one held longest. */
  shift(): HeldEvent | undefined {
    for (const [key, event] of this.byKey) {
      this.byKey.delete(key);
      return event;
    }
    return undefined;
  }

  /** Lets go of everything; returns how many were held. */
  clear(): number {
    const n = this.byKey.size;
    this.byKey.clear();
    return n;
  }
}
