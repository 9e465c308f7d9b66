// The one place a range's life is kept on a replica. Membership (the loop)
// claims and withdraws; the work (ShardedWork) starts, serves and lets go; both
// read the phases from here, so nothing about a range lives in two places.
//
//   free ─claim→ claimed ─start→ starting ─serve→ serving
//     ↑  ←withdraw─┘                 │  └──────┬──────┘
//     │                              letGo(hand-back)→ draining ─┐
//     │                              letGo(lost)     → lost ─────┤ (lost also from draining)
//     └───────────────────────────── release ────────────────────┘
//
// Each step that starts an asynchronous part (caches listing, a drain) takes a
// turn: the generation of the range at that moment. A later step checks its
// turn is still the range's current one before it acts, so the end of an old
// transition (a drain that resumes after the range was lost and taken again)
// cannot act on a new one. A range is free again only once its caches are
// dropped and its in-flight work has ended: until then it cannot be claimed.

/** free is no entry at all. */
export type RangePhase = 'claimed' | 'starting' | 'serving' | 'draining' | 'lost';

/** One transition in progress: valid while the range's generation is still this one. */
export interface RangeTurn {
  range: number;
  generation: number;
}

interface Entry {
  phase: RangePhase;
  generation: number;
}

export class RangeLifecycle {
  private readonly entries = new Map<number, Entry>();
  private generation = 0;

  /** The range's phase; undefined when free. */
  phase(range: number): RangePhase | undefined {
    return this.entries.get(range)?.phase;
  }

  /** Ranges in any of the phases, in order. */
  inPhase(...phases: RangePhase[]): number[] {
    return [...this.entries]
      .filter(([, e]) => phases.includes(e.phase))
      .map(([r]) => r)
      .sort((a, b) => a - b);
  }

  /** Ranges this replica may not claim: any not free. */
  busy(): number[] {
    return [...this.entries.keys()].sort((a, b) => a - b);
  }

  /** Whether the turn is still the range's current transition. */
  current(turn: RangeTurn): boolean {
    return this.entries.get(turn.range)?.generation === turn.generation;
  }

  /** free → claimed. */
  claim(range: number): boolean {
    if (this.entries.has(range)) return false;
    this.entries.set(range, { phase: 'claimed', generation: ++this.generation });
    return true;
  }

  /** claimed → free (the claim was withdrawn, or its write never committed). */
  withdraw(range: number): boolean {
    if (this.entries.get(range)?.phase !== 'claimed') return false;
    this.entries.delete(range);
    return true;
  }

  /** claimed (or free) → starting: the caches start listing. Undefined when the range is in any other phase. */
  start(range: number): RangeTurn | undefined {
    const phase = this.entries.get(range)?.phase;
    if (phase !== undefined && phase !== 'claimed') return undefined;
    return this.move(range, 'starting');
  }

  /** starting → serving, only for the start that is still current. */
  serve(turn: RangeTurn): boolean {
    const entry = this.entries.get(turn.range);
    if (!entry || entry.generation !== turn.generation || entry.phase !== 'starting') return false;
    entry.phase = 'serving';
    return true;
  }

  /**
   * starting or serving → draining (hand-back: in-flight work may still write)
   * or lost (not one more write); draining → lost. Undefined when there is
   * nothing to let go (free, claimed, already lost) or a hand-back of a range
   * already draining.
   */
  letGo(range: number, how: 'hand-back' | 'lost'): RangeTurn | undefined {
    const phase = this.entries.get(range)?.phase;
    if (phase === 'starting' || phase === 'serving') return this.move(range, how === 'lost' ? 'lost' : 'draining');
    if (phase === 'draining' && how === 'lost') return this.move(range, 'lost');
    return undefined;
  }

  /** draining or lost → free, only for the let-go that is still current. */
  release(turn: RangeTurn): boolean {
    const entry = this.entries.get(turn.range);
    if (!entry || entry.generation !== turn.generation || (entry.phase !== 'draining' && entry.phase !== 'lost')) return false;
    this.entries.delete(turn.range);
    return true;
  }

  private move(range: number, phase: RangePhase): RangeTurn {
    const generation = ++this.generation;
    this.entries.set(range, { phase, generation });
    return { range, generation };
  }
}
