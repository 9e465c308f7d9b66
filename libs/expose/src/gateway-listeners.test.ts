import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Gateway, attachedListeners, exposedUrl, listenerAdmits, routeUrl } from './gateway-listeners';

const gateway: Gateway = {
  spec: {
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'https', port: 443, protocol: 'HTTPS', hostname: '*.shop.example.com' },
      { name: 'admin', port: 8443, protocol: 'HTTPS', hostname: 'admin.example.com' },
    ],
  },
};

describe('listenerAdmits (Gateway API hostname matching)', () => {
  it('no hostname admits every host; an exact one only itself, case aside', () => {
    assert.ok(listenerAdmits(undefined, 'web.shop.example.com'));
    assert.ok(listenerAdmits('Web.Shop.example.com', 'web.shop.example.com'));
    assert.ok(!listenerAdmits('web.shop.example.com', 'api.shop.example.com'));
  });

  it('a wildcard admits hosts below it, one label or more, not the domain itself', () => {
    assert.ok(listenerAdmits('*.example.com', 'web.example.com'));
    assert.ok(listenerAdmits('*.example.com', 'web.shop.example.com'));
    assert.ok(!listenerAdmits('*.example.com', 'example.com'));
    assert.ok(!listenerAdmits('*.example.com', 'webexample.com'));
  });
});

describe('attachedListeners / routeUrl', () => {
  it('by sectionName: that listener only', () => {
    assert.deepEqual(attachedListeners(gateway, { sectionName: 'http' }, 'web.shop.example.com').map((l) => l.name), ['http']);
    assert.deepEqual(attachedListeners(gateway, { sectionName: 'admin' }, 'web.shop.example.com'), [], 'its hostname does not admit the host');
  });

  it('without one: every listener whose hostname admits the host (and port, when the parentRef names one)', () => {
    assert.deepEqual(attachedListeners(gateway, {}, 'web.shop.example.com').map((l) => l.name), ['http', 'https']);
    assert.deepEqual(attachedListeners(gateway, { port: 80 }, 'web.shop.example.com').map((l) => l.name), ['http']);
  });

  it('https when an attached listener is HTTPS, with its port when not 443; http otherwise; plain http when nothing is known', () => {
    assert.equal(routeUrl('web.shop.example.com', '/', attachedListeners(gateway, {}, 'web.shop.example.com')), 'https://web.shop.example.com/');
    assert.equal(routeUrl('web.shop.example.com', '/api', attachedListeners(gateway, { sectionName: 'http' }, 'web.shop.example.com')), 'http://web.shop.example.com/api');
    assert.equal(routeUrl('admin.example.com', '/', attachedListeners(gateway, { sectionName: 'admin' }, 'admin.example.com')), 'https://admin.example.com:8443/');
    assert.equal(routeUrl('web.shop.example.com', '/', [{ name: 'web', port: 8080, protocol: 'HTTP' }]), 'http://web.shop.example.com:8080/');
    assert.equal(routeUrl('web.shop.example.com', '/', []), 'http://web.shop.example.com/');
  });

  it('exposedUrl: an Ingress by its TLS Secret, an HTTPRoute by its Gateway', () => {
    assert.equal(exposedUrl({ routeKind: 'ingress', host: 'web.shop.example.com', path: '/', tlsSecret: 'web-tls' }, gateway), 'https://web.shop.example.com/');
    assert.equal(exposedUrl({ routeKind: 'ingress', host: 'web.shop.example.com', path: '/' }, undefined), 'http://web.shop.example.com/');
    assert.equal(exposedUrl({ routeKind: 'httproute', host: 'web.shop.example.com', path: '/', gateway: { sectionName: 'https' } }, gateway), 'https://web.shop.example.com/');
    assert.equal(exposedUrl({ routeKind: 'httproute', host: 'web.shop.example.com', path: '/', tlsSecret: 'ignored' }, undefined), 'http://web.shop.example.com/');
  });
});
