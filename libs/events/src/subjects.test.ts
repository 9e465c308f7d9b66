import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeToken, encodeToken, filterSubjectFor, parseSubject, subjectFor, SUBJECT_ROOT } from './subjects';

describe('encodeToken / decodeToken', () => {
  it('leaves ordinary Kubernetes names readable', () => {
    assert.equal(encodeToken('team-a'), 'team-a');
    assert.equal(encodeToken('web-0'), 'web-0');
  });

  it('escapes dots so a name stays one subject token', () => {
    assert.equal(encodeToken('api.v2.example'), 'api_2ev2_2eexample');
    assert.ok(!encodeToken('a.b.c').includes('.'));
  });

  it('keeps names apart that a naive dot replacement would merge', () => {
    const names = ['a.b', 'a_b', 'a_2eb', 'a-b', 'A.b', 'a..b', 'ab'];
    const tokens = names.map(encodeToken);
    assert.equal(new Set(tokens).size, names.length, tokens.join(' '));
  });

  it('round-trips any string, including wildcards, spaces and non-ASCII', () => {
    for (const value of ['api.v2', 'a_b', '*', '>', 'a b', 'Ünïcødé', 'x.>', '_', '__2e', '日本.example', 'UPPER']) {
      const token = encodeToken(value);
      assert.match(token, /^[a-z0-9_-]+$/, `token for ${JSON.stringify(value)} is ${token}`);
      assert.equal(decodeToken(token), value);
    }
  });

  it('rejects the empty string: a subject token cannot be empty', () => {
    assert.throws(() => encodeToken(''), /empty/);
  });

  it('refuses tokens encodeToken never produces', () => {
    assert.equal(decodeToken('_61'), undefined, 'escaped plain character is not canonical');
    assert.equal(decodeToken('a_2E'), undefined, 'upper-case hex');
    assert.equal(decodeToken('a_2'), undefined, 'truncated escape');
    assert.equal(decodeToken('a.b'), undefined);
    assert.equal(decodeToken('*'), undefined);
    assert.equal(decodeToken(''), undefined);
    assert.equal(decodeToken('_ff'), undefined, 'invalid UTF-8');
  });
});

describe('subjects', () => {
  it('follows the documented layout', () => {
    assert.equal(subjectFor('deployment.deleted', 'team-a', 'web'), 'ekspose.v1.deployment.deleted.team-a.web');
    assert.equal(subjectFor('ingress.recreated', 'ns', 'api.v2'), 'ekspose.v1.ingress.recreated.ns.api_2ev2');
    assert.equal(filterSubjectFor('service.recreated'), 'ekspose.v1.service.recreated.>');
    assert.equal(SUBJECT_ROOT, 'ekspose.v1.>');
  });

  it('parses what subjectFor produces', () => {
    assert.deepEqual(parseSubject(subjectFor('deployment.exposed', 'team-a', 'api.v2.example')), {
      kind: 'deployment.exposed',
      namespace: 'team-a',
      name: 'api.v2.example',
    });
  });

  it('rejects foreign or malformed subjects', () => {
    for (const subject of [
      'ekspose.v1.deployment.deleted.x',
      'ekspose.v1.deployment.deleted.x.y.z',
      'ekspose.v2.deployment.deleted.x.y',
      'ekspose.v1.deployment.created.x.y',
      'other.v1.deployment.deleted.x.y',
      'ekspose.v1.deployment.deleted.x._61',
    ]) {
      assert.equal(parseSubject(subject), undefined, subject);
    }
  });
});
