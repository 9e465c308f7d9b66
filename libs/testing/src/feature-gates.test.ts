import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { featureGatesArgs } from './feature-gates';

describe('featureGatesArgs', () => {
  it('makes no flag for no gates', () => {
    assert.deepEqual(featureGatesArgs(), []);
    assert.deepEqual(featureGatesArgs({}), []);
  });

  it('makes one flag, gates sorted, each with its value', () => {
    assert.deepEqual(featureGatesArgs({ ShardedListAndWatch: true, AllAlpha: false }), ['--feature-gates=AllAlpha=false,ShardedListAndWatch=true']);
  });

  it('refuses a name that would smuggle in another gate', () => {
    assert.throws(() => featureGatesArgs({ 'A=true,B': true }), /not a feature gate name/);
  });
});
