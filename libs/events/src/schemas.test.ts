import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, InvalidEventError, validateEvent } from './schemas';
import { subjectFor } from './subjects';

const at = '2025-01-02T03:04:05.000Z';
const encode = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('validateEvent', () => {
  it('fills in the version and keeps every field', () => {
    const event = validateEvent('deployment.deleted', { uid: 'u1', namespace: 'ns', name: 'web', deletedAt: at });
    assert.deepEqual(event, { v: 1, uid: 'u1', namespace: 'ns', name: 'web', deletedAt: at });
  });

  it('accepts each kind in its documented shape', () => {
    validateEvent('deployment.exposed', {
      uid: 'u1',
      namespace: 'ns',
      name: 'api.v2',
      service: { name: 'api.v2', port: 8080 },
      ingress: { name: 'api.v2', host: 'api.example.com', path: '/' },
      at,
    });
    validateEvent('deployment.exposed', { uid: 'u1', namespace: 'ns', name: 'web', service: { name: 'web', port: 80 }, ingress: null, at });
    validateEvent('service.recreated', { deploymentUid: 'u1', namespace: 'ns', name: 'web', serviceUid: 's1', at });
    validateEvent('ingress.recreated', { deploymentUid: 'u1', namespace: 'ns', name: 'web', ingressUid: 'i1', host: 'web.example.com', at });
  });

  it('throws naming each bad field', () => {
    assert.throws(
      () => validateEvent('deployment.deleted', { uid: '', namespace: 'Bad_NS', name: 'web', deletedAt: 'yesterday' }),
      (err: unknown) =>
        err instanceof InvalidEventError && /uid/.test(err.message) && /namespace/.test(err.message) && /deletedAt/.test(err.message),
    );
    assert.throws(
      () =>
        validateEvent('deployment.exposed', {
          uid: 'u1',
          namespace: 'ns',
          name: 'web',
          service: { name: 'web', port: 70000 },
          ingress: { name: 'web', host: 'h', path: 'relative' },
          at,
        }),
      /service\.port.*ingress\.path|ingress\.path.*service\.port/s,
    );
  });
});

describe('decodeEvent', () => {
  const good = { v: 1, uid: 'u1', namespace: 'ns', name: 'api.v2', deletedAt: at };
  const subject = subjectFor('deployment.deleted', 'ns', 'api.v2');

  it('returns the event for a well-formed message', () => {
    assert.deepEqual(decodeEvent('deployment.deleted', subject, encode(good)), { ok: true, event: good });
  });

  it('gives a reason for every kind of malformed message', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['ekspose.v1.deployment.deleted.x', encode(good), /unknown subject/],
      [subjectFor('service.recreated', 'ns', 'api.v2'), encode(good), /expected deployment\.deleted/],
      [subject, encode('not json {'), /not JSON/],
      [subject, encode({ ...good, v: 2 }), /schema.*v/],
      [subject, encode({ ...good, uid: undefined }), /schema.*uid/],
      [subjectFor('deployment.deleted', 'ns', 'other'), encode(good), /names ns\/api\.v2 but the subject ns\/other/],
    ];
    for (const [subj, data, reason] of cases) {
      const result = decodeEvent('deployment.deleted', subj, data);
      assert.equal(result.ok, false, subj);
      if (!result.ok) assert.match(result.reason, reason);
    }
  });
});
