import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { desiredConsumerConfig, desiredStreamConfig, DUPLICATE_WINDOW_SECONDS, streamConfigUpdate, assertDurableName } from './jetstream-config';

const SECOND = 1_000_000_000;

describe('desiredStreamConfig', () => {
  it('is the EKSPOSE stream on file storage with bounded age and a dedupe window of at least 2 minutes', () => {
    const config = desiredStreamConfig(7 * 24 * 3600);
    assert.equal(config.name, 'EKSPOSE');
    assert.deepEqual(config.subjects, ['ekspose.v1.>']);
    assert.equal(config.storage, 'file');
    assert.equal(config.max_age, 7 * 24 * 3600 * SECOND);
    assert.ok(config.duplicate_window >= 120 * SECOND);
    assert.equal(config.duplicate_window, DUPLICATE_WINDOW_SECONDS * SECOND);
    assert.equal(config.allow_direct, true);
  });

  it('never asks for a dedupe window longer than the stream keeps messages', () => {
    const config = desiredStreamConfig(60);
    assert.equal(config.duplicate_window, 60 * SECOND);
  });

  it('rejects a non-positive max age', () => {
    assert.throws(() => desiredStreamConfig(0));
    assert.throws(() => desiredStreamConfig(Number.NaN));
  });
});

describe('streamConfigUpdate', () => {
  const desired = desiredStreamConfig(3600);

  it('is empty for a stream that already matches (no write on restart)', () => {
    assert.deepEqual(streamConfigUpdate({ ...desired }, desired), {});
    const three = desiredStreamConfig(3600, 3);
    assert.deepEqual(streamConfigUpdate({ ...three }, three), {});
  });

  it('asks for the configured number of replicas (a stream made on one node grows with the cluster)', () => {
    assert.deepEqual(streamConfigUpdate({ ...desired, num_replicas: 1 }, desiredStreamConfig(3600, 3)), { num_replicas: 3 });
    assert.deepEqual(streamConfigUpdate({ ...desired, num_replicas: 3 }, desired), { num_replicas: 1 });
    assert.throws(() => desiredStreamConfig(3600, 0), /replicas/);
    assert.throws(() => desiredStreamConfig(3600, 6), /replicas/);
  });

  it('names exactly the settings that drifted, keeping extra subjects', () => {
    const update = streamConfigUpdate(
      { ...desired, subjects: ['other.>'], max_age: 0, allow_direct: false },
      desired,
    );
    assert.deepEqual(update, { subjects: ['other.>', 'ekspose.v1.>'], max_age: desired.max_age, allow_direct: true });
  });
});

describe('desiredConsumerConfig', () => {
  it('is a durable, explicit-ack consumer on one kind with bounded redelivery', () => {
    const config = desiredConsumerConfig('deployment.deleted', 'service-controller', 5);
    assert.equal(config.durable_name, 'service-controller');
    assert.equal(config.filter_subject, 'ekspose.v1.deployment.deleted.>');
    assert.equal(config.ack_policy, 'explicit');
    assert.equal(config.max_deliver, 5);
  });

  it('rejects durable names NATS cannot take', () => {
    assert.throws(() => assertDurableName('a.b'));
    assert.throws(() => assertDurableName('a*'));
    assert.throws(() => assertDurableName(''));
    assertDurableName('service-controller_1');
  });
});
