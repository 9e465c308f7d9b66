import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ingressHostProblem,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isIanaSvcName,
  parseDecimalNumber,
  parsePort,
  parseRouteAnnotations,
  urlPathProblem,
} from './validation';

describe('parsePort', () => {
  it('accepts plain decimal 1..65535', () => {
    assert.equal(parsePort('1'), 1);
    assert.equal(parsePort('80'), 80);
    assert.equal(parsePort('8080'), 8080);
    assert.equal(parsePort('65535'), 65535);
  });
  for (const value of ['', '0', '65536', '70000', 'abc', '08080', '+80', ' 80', '80 ', '80.0', '1e3', '-1', '0x50', '８０']) {
    it(`rejects ${JSON.stringify(value)}`, () => assert.equal(parsePort(value), undefined));
  }
});

describe('parseDecimalNumber', () => {
  it('accepts fractions in range and rejects other spellings', () => {
    assert.equal(parseDecimalNumber('1.5', 0, 10), 1.5);
    assert.equal(parseDecimalNumber('10', 0, 10), 10);
    assert.equal(parseDecimalNumber('10.5', 0, 10), undefined);
    assert.equal(parseDecimalNumber('.5', 0, 10), undefined);
    assert.equal(parseDecimalNumber('1.', 0, 10), undefined);
    assert.equal(parseDecimalNumber('1e1', 0, 100), undefined);
  });
});

describe('DNS names', () => {
  it('DNS-1123 label', () => {
    assert.ok(isDns1123Label('kube-system'));
    assert.ok(isDns1123Label('1abc'));
    assert.ok(isDns1123Label('a'.repeat(63)));
    for (const bad of ['', 'a'.repeat(64), 'Abc', 'a.b', '-a', 'a-', 'a_b']) assert.equal(isDns1123Label(bad), false, bad);
  });
  it('DNS-1123 subdomain', () => {
    assert.ok(isDns1123Subdomain('ekspose.local'));
    assert.ok(isDns1123Subdomain('a'));
    assert.ok(isDns1123Subdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`));
    for (const bad of ['', 'a..b', '.a', 'a.', 'A.b', 'a_b.c', 'a'.repeat(254), '*.a.b']) {
      assert.equal(isDns1123Subdomain(bad), false, bad);
    }
  });
  it('DNS-1035 label (Service names)', () => {
    assert.ok(isDns1035Label('restapi'));
    assert.ok(isDns1035Label('a-1'));
    assert.ok(isDns1035Label('a'.repeat(63)));
    for (const bad of ['', '1abc', 'a'.repeat(64), 'a.b', 'a-', 'Rest']) assert.equal(isDns1035Label(bad), false, bad);
  });
  it('IANA service names', () => {
    for (const good of ['http', 'web-8080', 'h2c', 'a'.repeat(15), '8080a']) assert.ok(isIanaSvcName(good), good);
    for (const bad of ['', '8080', 'a'.repeat(16), '-http', 'http-', 'my--port', 'HTTP', 'my_port']) {
      assert.equal(isIanaSvcName(bad), false, bad);
    }
  });
});

describe('ingressHostProblem', () => {
  it('accepts a DNS name', () => assert.equal(ingressHostProblem('restapi.default.ekspose.local'), undefined));
  it('rejects a part over 63 characters, which DNS cannot resolve', () => {
    assert.match(ingressHostProblem(`${'a'.repeat(64)}.example.com`) ?? '', /at most 63/);
  });
  it('rejects an IP address', () => assert.match(ingressHostProblem('10.0.0.1') ?? '', /not an IP/));
  it('rejects upper case and underscores', () => {
    assert.match(ingressHostProblem('Foo.com') ?? '', /DNS-1123 subdomain/);
    assert.match(ingressHostProblem('a_b.com') ?? '', /DNS-1123 subdomain/);
  });
});

describe('urlPathProblem', () => {
  for (const good of ['/', '/api', '/api/', '/api/v1', '/a%20b', "/a-b_c.d~!$&'()*+,;=:@"]) {
    it(`accepts ${good}`, () => assert.equal(urlPathProblem(good), undefined));
  }
  const bad: Array<[string, RegExp]> = [
    ['api', /absolute/],
    ['', /absolute/],
    ['/a b', /whitespace/],
    ['/a\tb', /whitespace/],
    ['/a?b=1', /"\?"/],
    ['/a#top', /"#"/],
    ['/a%zz', /percent-encoding/],
    ['/a%2fb', /"%2f"/],
    ['/a//b', /"\/\/"/],
    ['/a/../b', /"\/\.\.\/"/],
    ['/a/..', /end with "\/\.\."/],
    ['/a/.', /end with "\/\."/],
    ['/<script>', /"<"/],
  ];
  for (const [path, reason] of bad) {
    it(`rejects ${JSON.stringify(path)}`, () => assert.match(urlPathProblem(path) ?? '', reason));
  }
});

describe('parseRouteAnnotations', () => {
  it('takes a JSON object of strings with valid keys', () => {
    assert.deepEqual(parseRouteAnnotations('{"nginx.ingress.kubernetes.io/proxy-body-size":"8m","team":"a"}'), {
      annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m', team: 'a' },
    });
  });
  it('refuses snippets (naming them), bad JSON, non-strings, bad keys and ekspose.io/ keys', () => {
    const reason = (json: string) => {
      const r = parseRouteAnnotations(json);
      return 'reason' in r ? r.reason : '';
    };
    assert.match(reason('{"nginx.ingress.kubernetes.io/configuration-snippet":"x","ok":"1"}'), /refused: nginx\.ingress\.kubernetes\.io\/configuration-snippet/);
    assert.match(reason('{"a":'), /not valid JSON/);
    assert.match(reason('["a"]'), /JSON object/);
    assert.match(reason('{"a":1,"b":true}'), /not a string: a, b/);
    assert.match(reason('{"-bad":"x"}'), /not an annotation key/);
    assert.match(reason('{"ekspose.io/host":"x"}'), /ekspose's own/);
  });
});
