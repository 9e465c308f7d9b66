import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FEATURE_GATES, featureGatesArgs, planeFeatureGates } from './feature-gates';

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

describe('planeFeatureGates', () => {
  it('gives a plane ShardedListAndWatch unless told otherwise', () => {
    assert.deepEqual(planeFeatureGates(), { ShardedListAndWatch: true });
    assert.deepEqual(planeFeatureGates({}), { ShardedListAndWatch: true });
    assert.deepEqual(featureGatesArgs(planeFeatureGates()), ['--feature-gates=ShardedListAndWatch=true']);
  });

  it('lets the caller turn a default gate off, and keeps the defaults beside the gates it adds', () => {
    assert.deepEqual(featureGatesArgs(planeFeatureGates({ ShardedListAndWatch: false })), ['--feature-gates=ShardedListAndWatch=false']);
    assert.deepEqual(planeFeatureGates({ AllAlpha: false }), { AllAlpha: false, ShardedListAndWatch: true });
  });

  it('cannot be changed through the defaults it returns', () => {
    planeFeatureGates().ShardedListAndWatch = false;
    assert.equal(DEFAULT_FEATURE_GATES['ShardedListAndWatch'], true);
    assert.throws(() => ((DEFAULT_FEATURE_GATES as Record<string, boolean>)['ShardedListAndWatch'] = false), TypeError);
  });
});
