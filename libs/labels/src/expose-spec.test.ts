import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeProblems, formatProblem, MAX_EVENT_MESSAGE_LENGTH, parseExposeSpec } from './expose-spec';
import { exposeSettings } from './settings';
import type { DeploymentLike, ExposeSettings, ExposeSpec, ParseResult, Problem } from './types';

function settingsFrom(env: Record<string, string> = {}): ExposeSettings {
  const result = exposeSettings.load(env);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.settings;
}

const defaults = settingsFrom();

function deployment(
  options: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    selector?: NonNullable<DeploymentLike['spec']>['selector'];
  } = {},
): DeploymentLike {
  return {
    metadata: {
      name: options.name ?? 'restapi',
      namespace: options.namespace ?? 'shop',
      uid: 'uid-1',
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
    },
    spec: { selector: 'selector' in options ? options.selector : { matchLabels: { app: 'restapi' } } },
  };
}

function expose(result: ParseResult): ExposeSpec {
  assert.equal(result.kind, 'expose', JSON.stringify(result));
  return (result as { spec: ExposeSpec }).spec;
}

function problems(result: ParseResult): Problem[] {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  return (result as { problems: Problem[] }).problems;
}

/** The single problem of `result`, which must be about `key`. */
function onlyProblem(result: ParseResult, key: string): Problem {
  const found = problems(result);
  assert.deepEqual(
    found.map((p) => p.key),
    [key],
  );
  return found[0] as Problem;
}

describe('parseExposeSpec: the historic sample', () => {
  const historic = deployment({ labels: { app: 'restapi', ingReq: 'needed', port: '8080' } });

  it('gives a Service on 8080 and an Ingress on restapi.<ns>.<domain>', () => {
    assert.deepEqual(expose(parseExposeSpec(historic, defaults)), {
      namespace: 'shop',
      name: 'restapi',
      uid: 'uid-1',
      port: 8080,
      targetPort: 8080,
      selector: { app: 'restapi' },
      ingress: { routeKind: 'ingress', host: 'restapi.shop.ekspose.local', path: '/' },
    });
  });

  it('with the template {name}.abhilash.com gives restapi.abhilash.com', () => {
    const spec = expose(parseExposeSpec(historic, settingsFrom({ EKSPOSE_HOST_TEMPLATE: '{name}.abhilash.com' })));
    assert.equal(spec.ingress?.host, 'restapi.abhilash.com');
    assert.equal(spec.port, 8080);
  });

  it('uses EKSPOSE_DOMAIN in the default template', () => {
    const spec = expose(parseExposeSpec(historic, settingsFrom({ EKSPOSE_DOMAIN: 'apps.example.com' })));
    assert.equal(spec.ingress?.host, 'restapi.shop.apps.example.com');
  });
});

describe('parseExposeSpec: defaults', () => {
  it('a Deployment with no labels gets port 80, targetPort 80 and no Ingress', () => {
    const d: DeploymentLike = {
      metadata: { name: 'plain', namespace: 'default', uid: 'u' },
      spec: { selector: { matchLabels: { app: 'plain' } } },
    };
    assert.deepEqual(expose(parseExposeSpec(d, defaults)), {
      namespace: 'default',
      name: 'plain',
      uid: 'u',
      port: 80,
      targetPort: 80,
      selector: { app: 'plain' },
      ingress: null,
    });
  });

  it('takes ingress class and TLS secret from the settings', () => {
    const settings = settingsFrom({ EKSPOSE_INGRESS_CLASS: 'nginx', EKSPOSE_TLS_SECRET: 'wildcard-tls' });
    const spec = expose(parseExposeSpec(deployment({ labels: { ingReq: 'needed' } }), settings));
    assert.deepEqual(spec.ingress, {
      routeKind: 'ingress',
      host: 'restapi.shop.ekspose.local',
      path: '/',
      ingressClassName: 'nginx',
      tlsSecret: 'wildcard-tls',
    });
  });

  it('copies the selector instead of sharing it with the Deployment', () => {
    const d = deployment();
    const spec = expose(parseExposeSpec(d, defaults));
    spec.selector.extra = 'x';
    assert.deepEqual(d.spec?.selector?.matchLabels, { app: 'restapi' });
  });
});

describe('parseExposeSpec: each key, valid and invalid', () => {
  it('port: valid', () => {
    assert.equal(expose(parseExposeSpec(deployment({ labels: { port: '65535' } }), defaults)).port, 65535);
  });
  for (const value of ['abc', '0', '70000', '08080', '+80', ' 80']) {
    it(`port: ${JSON.stringify(value)} is a problem`, () => {
      const p = onlyProblem(parseExposeSpec(deployment({ labels: { port: value } }), defaults), 'port');
      assert.equal(p.value, value);
      assert.match(p.reason, /integer from 1 to 65535/);
    });
  }

  it('ingReq: exactly "needed" asks for an Ingress', () => {
    assert.notEqual(expose(parseExposeSpec(deployment({ labels: { ingReq: 'needed' } }), defaults)).ingress, null);
  });
  for (const value of ['yes', 'Needed', 'true', '']) {
    it(`ingReq: ${JSON.stringify(value)} means no Ingress and is not a problem`, () => {
      assert.equal(expose(parseExposeSpec(deployment({ labels: { ingReq: value } }), defaults)).ingress, null);
    });
  }

  it('target-port: a number', () => {
    const spec = expose(parseExposeSpec(deployment({ labels: { port: '80' }, annotations: { 'ekspose.io/target-port': '8080' } }), defaults));
    assert.equal(spec.port, 80);
    assert.equal(spec.targetPort, 8080);
  });
  it('target-port: a named port', () => {
    const spec = expose(parseExposeSpec(deployment({ annotations: { 'ekspose.io/target-port': 'http-alt' } }), defaults));
    assert.equal(spec.targetPort, 'http-alt');
  });
  it('target-port: follows the port label by default', () => {
    assert.equal(expose(parseExposeSpec(deployment({ labels: { port: '9000' } }), defaults)).targetPort, 9000);
  });
  for (const value of ['0', '70000', 'Http', 'my--port', 'a-very-long-port-name', '-http']) {
    it(`target-port: ${JSON.stringify(value)} is a problem`, () => {
      const p = onlyProblem(
        parseExposeSpec(deployment({ annotations: { 'ekspose.io/target-port': value } }), defaults),
        'ekspose.io/target-port',
      );
      assert.equal(p.value, value);
      assert.match(p.reason, /1 to 65535.*IANA service name/);
    });
  }

  it('path: an absolute path', () => {
    const spec = expose(parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': '/api' } }), defaults));
    assert.equal(spec.ingress?.path, '/api');
  });
  for (const value of ['api', '/a b', '/a?b', '/a#b', '']) {
    it(`path: ${JSON.stringify(value)} is a problem`, () => {
      const p = onlyProblem(
        parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': value } }), defaults),
        'ekspose.io/path',
      );
      assert.equal(p.value, value);
    });
  }

  it('host: overrides the template', () => {
    const spec = expose(
      parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': 'shop.example.com' } }), defaults),
    );
    assert.equal(spec.ingress?.host, 'shop.example.com');
  });
  for (const value of ['Shop.example.com', 'shop_example.com', '10.1.2.3', '*.example.com', '']) {
    it(`host: ${JSON.stringify(value)} is a problem`, () => {
      const p = onlyProblem(
        parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': value } }), defaults),
        'ekspose.io/host',
      );
      assert.equal(p.value, value);
    });
  }

  it('ingress-class and tls-secret: annotations override the settings', () => {
    const settings = settingsFrom({ EKSPOSE_INGRESS_CLASS: 'nginx', EKSPOSE_TLS_SECRET: 'default-tls' });
    const spec = expose(
      parseExposeSpec(
        deployment({
          labels: { ingReq: 'needed' },
          annotations: { 'ekspose.io/ingress-class': 'traefik', 'ekspose.io/tls-secret': 'shop-tls' },
        }),
        settings,
      ),
    );
    assert.equal(spec.ingress?.ingressClassName, 'traefik');
    assert.equal(spec.ingress?.tlsSecret, 'shop-tls');
  });
  it('TLS secret: {name} and {namespace} name the Deployment, from the setting or the annotation', () => {
    const perIngress = settingsFrom({ EKSPOSE_TLS_SECRET: '{name}-tls' });
    assert.equal(expose(parseExposeSpec(deployment({ labels: { ingReq: 'needed' } }), perIngress)).ingress?.tlsSecret, 'restapi-tls');
    const annotated = deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/tls-secret': '{namespace}-{name}-cert' } });
    assert.equal(expose(parseExposeSpec(annotated, defaults)).ingress?.tlsSecret, 'shop-restapi-cert');
    assert.equal(exposeSettings.load({ EKSPOSE_TLS_SECRET: '{host}-tls' }).ok, false);
    assert.equal(exposeSettings.load({ EKSPOSE_TLS_SECRET: '{name}_tls' }).ok, false);
  });

  it('route kind and Gateway: the settings by default, the annotations per Deployment', () => {
    const gatewayDefault = settingsFrom({ EKSPOSE_ROUTE_KIND: 'httproute', EKSPOSE_GATEWAY: 'infra/public' });
    const wanted = { labels: { ingReq: 'needed' } };
    assert.deepEqual(expose(parseExposeSpec(deployment(wanted), gatewayDefault)).ingress, {
      routeKind: 'httproute',
      gateway: { namespace: 'infra', name: 'public' },
      host: 'restapi.shop.ekspose.local',
      path: '/',
    });
    const perDeployment = expose(
      parseExposeSpec(deployment({ ...wanted, annotations: { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'edge/gw/https' } }), defaults),
    );
    assert.equal(perDeployment.ingress?.routeKind, 'httproute');
    assert.deepEqual(perDeployment.ingress?.gateway, { namespace: 'edge', name: 'gw', sectionName: 'https' });
    const back = expose(parseExposeSpec(deployment({ ...wanted, annotations: { 'ekspose.io/route-kind': 'ingress' } }), gatewayDefault));
    assert.equal(back.ingress?.routeKind, 'ingress');
    assert.equal(back.ingress?.gateway, undefined);
  });

  it('route kind and Gateway: a bad value, or an HTTPRoute without any Gateway, is a problem naming the annotation', () => {
    const kind = onlyProblem(parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/route-kind': 'gateway' } }), defaults), 'ekspose.io/route-kind');
    assert.match(kind.reason, /ingress, httproute/);
    const gw = onlyProblem(parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/gateway': 'Infra/public' } }), defaults), 'ekspose.io/gateway');
    assert.match(gw.reason, /namespace "Infra"/);
    const none = onlyProblem(parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/route-kind': 'httproute' } }), defaults), 'ekspose.io/gateway');
    assert.match(none.reason, /an HTTPRoute needs a Gateway/);
  });

  for (const key of ['ekspose.io/ingress-class', 'ekspose.io/tls-secret']) {
    it(`${key}: an invalid name is a problem`, () => {
      const p = onlyProblem(parseExposeSpec(deployment({ labels: { ingReq: 'needed' }, annotations: { [key]: 'Not_A_Name' } }), defaults), key);
      assert.equal(p.value, 'Not_A_Name');
      assert.match(p.reason, /DNS-1123 subdomain/);
    });
  }

  it('ignore: "true" leaves the Deployment alone, even with bad values', () => {
    const result = parseExposeSpec(deployment({ labels: { 'ekspose.io/ignore': 'true', port: 'abc' } }), defaults);
    assert.equal(result.kind, 'ignored');
  });
  it('ignore: "false" is the same as absent', () => {
    assert.equal(parseExposeSpec(deployment({ labels: { 'ekspose.io/ignore': 'false' } }), defaults).kind, 'expose');
  });
  it('ignore: any other value is a problem, so nothing is written', () => {
    const p = onlyProblem(parseExposeSpec(deployment({ labels: { 'ekspose.io/ignore': 'yes' } }), defaults), 'ekspose.io/ignore');
    assert.equal(p.value, 'yes');
  });

  it('ingress annotations are checked even when no Ingress is wanted, and no Ingress is produced', () => {
    const result = parseExposeSpec(deployment({ annotations: { 'ekspose.io/path': 'relative' } }), defaults);
    assert.equal(onlyProblem(result, 'ekspose.io/path').value, 'relative');
    const fine = expose(parseExposeSpec(deployment({ annotations: { 'ekspose.io/path': '/ok', 'ekspose.io/host': 'a.b' } }), defaults));
    assert.equal(fine.ingress, null);
  });
});

describe('parseExposeSpec: names and selectors', () => {
  for (const [name, why] of [
    ['1abc', 'starts with a digit'],
    ['a'.repeat(64), 'is 64 characters'],
    ['a.b', 'has a dot'],
    ['Rest', 'has upper case'],
  ]) {
    it(`a Deployment name that ${why} cannot be a Service name`, () => {
      const p = onlyProblem(parseExposeSpec(deployment({ name }), defaults), 'metadata.name');
      assert.equal(p.value, name);
      assert.match(p.reason, /Service name/);
    });
  }

  it('a 63-character name is fine', () => {
    assert.equal(expose(parseExposeSpec(deployment({ name: 'a'.repeat(63) }), defaults)).name, 'a'.repeat(63));
  });

  it('missing name, namespace and uid are reported', () => {
    const found = problems(parseExposeSpec({ spec: { selector: { matchLabels: { a: 'b' } } } }, defaults));
    assert.deepEqual(
      found.map((p) => [p.key, p.reason]),
      [
        ['metadata.name', 'is missing'],
        ['metadata.namespace', 'is missing'],
        ['metadata.uid', 'is missing'],
      ],
    );
  });

  it('a matchExpressions-only selector is reported, not guessed', () => {
    const selector = { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['x'] }] };
    const p = onlyProblem(parseExposeSpec(deployment({ selector }), defaults), 'spec.selector');
    assert.equal(p.value, JSON.stringify(selector));
    assert.match(p.reason, /matchExpressions/);
  });

  it('matchLabels with a narrowing expression is reported, as kubectl expose does', () => {
    const selector = { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] };
    onlyProblem(parseExposeSpec(deployment({ selector }), defaults), 'spec.selector');
  });

  it('an expression meaning exactly key=value (In with one value) is used', () => {
    const selector = { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] };
    assert.deepEqual(expose(parseExposeSpec(deployment({ selector }), defaults)).selector, { app: 'a', tier: 'web' });
  });

  it('an empty or missing selector is reported', () => {
    onlyProblem(parseExposeSpec(deployment({ selector: { matchLabels: {} } }), defaults), 'spec.selector');
    onlyProblem(parseExposeSpec(deployment({ selector: undefined }), defaults), 'spec.selector');
  });
});

describe('parseExposeSpec: several problems and the host template', () => {
  it('reports every problem at once', () => {
    const d = deployment({
      name: '1abc',
      labels: { port: '70000', ingReq: 'needed' },
      annotations: { 'ekspose.io/target-port': '--', 'ekspose.io/path': 'x', 'ekspose.io/host': 'A', 'ekspose.io/tls-secret': '_' },
      selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }] },
    });
    assert.deepEqual(
      problems(parseExposeSpec(d, defaults)).map((p) => [p.key, p.value]),
      [
        ['metadata.name', '1abc'],
        ['spec.selector', '{"matchExpressions":[{"key":"a","operator":"Exists"}]}'],
        ['port', '70000'],
        ['ekspose.io/target-port', '--'],
        ['ekspose.io/path', 'x'],
        ['ekspose.io/host', 'A'],
        ['ekspose.io/tls-secret', '_'],
      ],
    );
  });

  it('a template that renders an invalid host is a problem naming the rendered host', () => {
    const settings = settingsFrom({ EKSPOSE_HOST_TEMPLATE: '{name}.{namespace}.{domain}' });
    const name = 'a'.repeat(63);
    const namespace = 'n'.repeat(63);
    const longDomain = settingsFrom({ EKSPOSE_DOMAIN: `${'d'.repeat(63)}.${'e'.repeat(63)}` });
    const d = deployment({ name, namespace, labels: { ingReq: 'needed' } });
    assert.equal(parseExposeSpec(d, settings).kind, 'expose');
    const p = onlyProblem(parseExposeSpec(d, longDomain), 'EKSPOSE_HOST_TEMPLATE');
    assert.equal(p.value, `${name}.${namespace}.${'d'.repeat(63)}.${'e'.repeat(63)}`);
    assert.match(p.reason, /ekspose\.io\/host/);
  });

  it('a template joining name and namespace can render a part longer than 63 characters', () => {
    const settings = settingsFrom({ EKSPOSE_HOST_TEMPLATE: '{name}-{namespace}.apps.example.com' });
    const d = deployment({ name: 'n'.repeat(40), namespace: 's'.repeat(30), labels: { ingReq: 'needed' } });
    const p = onlyProblem(parseExposeSpec(d, settings), 'EKSPOSE_HOST_TEMPLATE');
    assert.equal(p.value, `${'n'.repeat(40)}-${'s'.repeat(30)}.apps.example.com`);
    assert.match(p.reason, /at most 63/);
    assert.equal(expose(parseExposeSpec(deployment({ labels: { ingReq: 'needed' } }), settings)).ingress?.host, 'restapi-shop.apps.example.com');
  });

  it('the rendered host is not checked when no Ingress is wanted', () => {
    const longDomain = settingsFrom({ EKSPOSE_DOMAIN: `${'d'.repeat(63)}.${'e'.repeat(63)}` });
    const d = deployment({ name: 'a'.repeat(63), namespace: 'n'.repeat(63) });
    assert.equal(parseExposeSpec(d, longDomain).kind, 'expose');
  });

  it('a host annotation avoids a bad rendered host', () => {
    const longDomain = settingsFrom({ EKSPOSE_DOMAIN: `${'d'.repeat(63)}.${'e'.repeat(63)}` });
    const d = deployment({
      name: 'a'.repeat(63),
      namespace: 'n'.repeat(63),
      labels: { ingReq: 'needed' },
      annotations: { 'ekspose.io/host': 'short.example.com' },
    });
    assert.equal(expose(parseExposeSpec(d, longDomain)).ingress?.host, 'short.example.com');
  });
});

describe('describeProblems', () => {
  it('formats key, value and reason', () => {
    assert.equal(formatProblem({ key: 'port', value: '70000', reason: 'must be an integer from 1 to 65535' }), 'port "70000": must be an integer from 1 to 65535');
  });

  it('joins problems on one line', () => {
    const text = describeProblems([
      { key: 'port', value: 'abc', reason: 'bad port' },
      { key: 'ekspose.io/path', value: 'x\ny', reason: 'bad path' },
    ]);
    assert.equal(text, 'port "abc": bad port; ekspose.io/path "x\\ny": bad path');
  });

  it('stays within 1024 ASCII characters and counts what it left out', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ key: `ekspose.io/key-${i}`, value: 'é'.repeat(200), reason: 'is not valid' }));
    const text = describeProblems(many);
    assert.ok(text.length <= MAX_EVENT_MESSAGE_LENGTH, String(text.length));
    assert.match(text, /^[\x20-\x7e]*$/);
    assert.match(text, /ekspose\.io\/key-0 /);
    const shown = (text.match(/ekspose\.io\/key-/g) ?? []).length;
    assert.match(text, new RegExp(`\\(and ${40 - shown} more\\)$`));
  });

  it('cuts a single problem that is too long on its own', () => {
    const text = describeProblems([{ key: 'k', value: 'v', reason: 'r'.repeat(5000) }, { key: 'k2', value: 'v', reason: 'r' }]);
    assert.ok(text.length <= MAX_EVENT_MESSAGE_LENGTH);
    assert.match(text, /\.\.\. \(and 1 more\)$/);
  });

  it('shows nothing for no problems', () => assert.equal(describeProblems([]), ''));
});
