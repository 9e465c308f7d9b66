import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RangeLifecycle } from './range-lifecycle';

describe('RangeLifecycle', () => {
  it('free → claimed → starting → serving → draining → free, each step only from the phase before it', () => {
    const ranges = new RangeLifecycle();
    assert.equal(ranges.letGo(3, 'hand-back'), undefined, 'nothing to let go of a free range');
    assert.equal(ranges.claim(3), true);
    assert.equal(ranges.claim(3), false, 'claimed once');
    const start = ranges.start(3)!;
    assert.equal(ranges.phase(3), 'starting');
    assert.equal(ranges.start(3), undefined, 'started once');
    assert.equal(ranges.withdraw(3), false, 'a held range is not withdrawn');
    assert.equal(ranges.serve(start), true);
    assert.deepEqual(ranges.inPhase('serving'), [3]);
    const drain = ranges.letGo(3, 'hand-back')!;
    assert.equal(ranges.phase(3), 'draining');
    assert.equal(ranges.claim(3), false, 'not claimable while its work ends');
    assert.deepEqual(ranges.busy(), [3]);
    assert.equal(ranges.release(drain), true);
    assert.equal(ranges.phase(3), undefined);
    assert.equal(ranges.claim(3), true, 'claimable once free');
  });

  it('a late step of an old transition does not act on a new one', () => {
    const ranges = new RangeLifecycle();
    const firstStart = ranges.start(1)!;
    // Lost while its caches were listing: their listing ending later serves nothing.
    const loss = ranges.letGo(1, 'lost')!;
    assert.equal(ranges.serve(firstStart), false);
    assert.equal(ranges.phase(1), 'lost');
    assert.equal(ranges.release(loss), true);
    // Taken again, then the first loss's release comes late: the new start is left alone.
    const again = ranges.start(1)!;
    assert.equal(ranges.release(loss), false);
    assert.equal(ranges.current(loss), false);
    assert.equal(ranges.serve(again), true);
    assert.equal(ranges.phase(1), 'serving');
  });

  it('a loss during a hand-back takes over its end: the drain’s own release no longer frees the range', () => {
    const ranges = new RangeLifecycle();
    ranges.serve(ranges.start(2)!);
    const drain = ranges.letGo(2, 'hand-back')!;
    assert.equal(ranges.letGo(2, 'hand-back'), undefined, 'one hand-back at a time');
    const loss = ranges.letGo(2, 'lost')!;
    assert.equal(ranges.phase(2), 'lost');
    assert.equal(ranges.release(drain), false);
    assert.equal(ranges.phase(2), 'lost');
    assert.equal(ranges.release(loss), true);
    assert.equal(ranges.letGo(2, 'lost'), undefined, 'nothing left to lose');
  });
});
