// The decision each replica makes once per retry period about which ranges it
// holds, given the live members' Leases. Pure: the loop that writes the Lease,
// lists the others and starts or stops informers lives elsewhere.
//
// Each replica writes only its own Lease, so no single compare-and-swap makes a
// range exclusive, as a Lease per range would (at the cost of one write per
// range per retry period). Exclusivity comes from a claim before the hold:
//
//   1. A replica under its share claims free ranges: it lists them as claimed
//      in its own Lease (and does nothing with them yet).
//   2. On its next round — a list made after that write was committed — it
//      holds a claimed range only if no other live member claims or holds it.
//      On a clash of two claims the lower identity keeps its claim, the other
//      withdraws; a holder always wins over a claimer.
//
// Two replicas cannot both hold a range: if A's list (after A's claim) did not
// show B's claim, B claimed after that list, so B's list (after B's claim)
// comes later still and shows A's claim or hold, which stops B. This needs
// each round's list to follow the previous round's write, and a replica to
// keep a range listed from its claim until it lets go (both are the loop's job).
//
// Letting go is explicit: a replica above its share hands ranges back (after
// draining its work on them) and writes its Lease without them, so a new
// replica gets them at its next rounds instead of after an expiry. Ranges of a
// member whose Lease expired are free; those of a live member never are.
import { fnv1a64 } from './shard-ranges';

/** What this replica's own Lease said when it was last written (and committed). */
export interface OwnRanges {
  held: readonly number[];
  claimed: readonly number[];
  /** Ranges this replica is still letting go (their work ending): never claimed again before that ends. */
  leaving?: readonly number[];
}

/** Another live member, as its Lease says (see shard-members.ts for who is live). */
export interface PeerRanges {
  identity: string;
  shards: number;
  held: readonly number[];
  claimed: readonly number[];
  /**
   * Not renewed for longer than the renew deadline: it has let go of its ranges
   * itself by now (or died), though its Lease is live until it expires. Its
   * ranges may be claimed (never held before it expires), and it does not count
   * in the share, so a kill -9 is taken over at expiry, not a round or two later.
   */
  stale?: boolean;
}

export interface AssignmentInput {
  identity: string;
  /** This replica's EKSPOSE_SHARDS. */
  shards: number;
  mine: OwnRanges;
  /** Live members other than this one; expired and released ones left out. */
  others: readonly PeerRanges[];
}

export interface Assignment {
  /**
   * ceil(shards / members sharing): the most this replica may hold or claim
   * (the floor of it while a peer has less than that floor).
   */
  share: number;
  /** Ranges held after this round: start informers for those not held before. */
  held: number[];
  /** Of those, the claims that became holds this round. */
  taken: number[];
  /** Held ranges to let go: stop their informers, drain their work, then write the Lease without them. */
  handBack: number[];
  /** Of those, ranges another live member holds too: let go at once, not drained (no write may go out for them). */
  conflicted: number[];
  /** Claims to list in the next write (not held yet: nothing runs for them). */
  claimed: number[];
  /** Claims given up because another member holds or out-ranks them, or the share shrank. */
  withdrawn: number[];
  /** Why this replica does not share with some members (different EKSPOSE_SHARDS), for a log line and a metric. */
  problem?: string;
}

const sorted = (values: Iterable<number>): number[] => [...new Set(values)].sort((a, b) => a - b);

/** MurmurHash3's fmix64: FNV-1a alone barely moves the top bits for strings that differ at the end (pod names, range numbers). */
function mix64(h: bigint): bigint {
  let x = h ^ (h >> 33n);
  x = BigInt.asUintN(64, x * 0xff51afd7ed558ccdn);
  x ^= x >> 33n;
  x = BigInt.asUintN(64, x * 0xc4ceb9fe1a85ec53n);
  return x ^ (x >> 33n);
}

/** The ranges in the order this replica claims them: by a hash of `identity/range`, the same in every round. */
export function preference(identity: string, shards: number): number[] {
  return Array.from({ length: shards }, (_, r) => ({ r, rank: mix64(fnv1a64(`${identity}/${r}`)) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.r - b.r))
    .map((x) => x.r);
}

/** A range as the other members' Leases show it. */
interface RangeRow {
  /** Live peers (of this count) that list it as held; a stale one is still a holder until it expires. */
  holders: PeerRanges[];
  /** Active (not stale) peers that claim it. */
  claimers: string[];
}

/** The rows of every range of `shards`, read by range number. */
function rangeTable(shards: number, peers: readonly PeerRanges[]): (range: number) => RangeRow {
  const table: RangeRow[] = Array.from({ length: shards }, () => ({ holders: [], claimers: [] }));
  for (const p of peers) {
    for (const r of p.held) table[r]?.holders.push(p);
    if (!p.stale) for (const r of p.claimed) table[r]?.claimers.push(p.identity);
  }
  return (r) => table[r] ?? { holders: [], claimers: [] };
}

export function decideAssignment(input: AssignmentInput): Assignment {
  const { identity, shards } = input;
  const peers = input.others.filter((o) => o.shards === shards);
  // Who shares the work from now on: a stale peer's ranges are to be taken over.
  const active = peers.filter((p) => !p.stale);
  const strangers = input.others.filter((o) => o.shards !== shards);
  const share = Math.ceil(shards / (active.length + 1));
  const problem =
    strangers.length === 0
      ? undefined
      : `not sharing with ${strangers.map((s) => `${s.identity} (EKSPOSE_SHARDS=${s.shards})`).join(', ')}: this replica runs with EKSPOSE_SHARDS=${shards}, and ranges of different counts overlap`;

  // A member with another count cuts the hash space differently: any range of
  // its overlaps ranges of ours, so both counts must never be held at once.
  // It counts as claiming everything; a holder wins, then the lower identity.
  const strangerHolds = strangers.some((s) => s.held.length > 0);
  const outrankedByStranger = input.mine.held.length === 0 && strangers.some((s) => s.claimed.length > 0 && s.identity < identity);
  if (strangerHolds || outrankedByStranger) {
    return { share, held: [], taken: [], handBack: sorted(input.mine.held), conflicted: [], claimed: [], withdrawn: sorted(input.mine.claimed), problem };
  }
  const strangerClaims = strangers.some((s) => s.claimed.length > 0);

  // One row per range (its holders, stale or not, and its active claimers): every step below reads it.
  const row = rangeTable(shards, peers);
  const heldByPeer = (r: number) => row(r).holders.length > 0;
  const heldByActive = (r: number) => row(r).holders.some((p) => !p.stale);

  // A range two live members hold breaks the invariant (clocks far apart, a
  // Lease edited by hand): let go of it rather than write beside another.
  const mineHeld = sorted(input.mine.held);
  const doubly = mineHeld.filter(heldByPeer);
  let held = mineHeld.filter((r) => !heldByPeer(r));

  const taken: number[] = [];
  const withdrawn: number[] = [];
  let claimed: number[] = [];
  for (const r of sorted(input.mine.claimed)) {
    if (held.includes(r)) continue;
    const rivals = row(r).claimers;
    if (heldByActive(r) || rivals.some((id) => id < identity)) withdrawn.push(r);
    // Promote only on a clean list: no rival claim, no other count about to take the space, and no live holder (a stale one waits for its expiry).
    else if (rivals.length === 0 && !strangerClaims && !heldByPeer(r)) taken.push(r);
    else claimed.push(r);
  }
  held = sorted([...held, ...taken]);

  // ceil shares can leave a member with nothing (4 ranges, 3 replicas: 2/2/0).
  // While a peer is below the floor share, nobody claims beyond the floor, and
  // when nothing is free, those above it hand back down to it.
  const floor = Math.floor(shards / (active.length + 1));
  const starving = active.some((p) => p.held.length + p.claimed.length < floor);
  const listedByPeers = (r: number) => heldByActive(r) || row(r).claimers.length > 0;
  const nothingFree = Array.from({ length: shards }, (_, r) => r).every((r) => listedByPeers(r) || held.includes(r) || claimed.includes(r));
  const keepLimit = starving && nothingFree ? floor : share;
  const claimLimit = starving ? floor : share;

  // Above the limit: keep the lowest ranges, hand back the highest; claims go first.
  const handBack = [...doubly, ...held.slice(keepLimit)];
  held = held.slice(0, keepLimit);
  const room = Math.max(0, claimLimit - held.length);
  withdrawn.push(...claimed.slice(room));
  claimed = claimed.slice(0, room);

  // Below the share, and no other count in the way: claim free ranges in this replica's own order
  // (rendezvous: by the hash of identity and range), so replicas claiming at once, as the survivors of a
  // kill do, mostly pick different ranges instead of all reaching for the lowest and losing a round.
  if (!strangerClaims) {
    const mine = new Set([...held, ...claimed, ...handBack, ...withdrawn, ...(input.mine.leaving ?? [])]);
    const free = (r: number) => !listedByPeers(r) && !mine.has(r);
    claimed.push(...preference(identity, shards).filter(free).slice(0, Math.max(0, claimLimit - held.length - claimed.length)));
  }

  return {
    share,
    held,
    taken: taken.filter((r) => held.includes(r)),
    handBack: sorted(handBack),
    conflicted: sorted(doubly),
    claimed: sorted(claimed),
    withdrawn: sorted(withdrawn),
    ...(problem === undefined ? {} : { problem }),
  };
}
