import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients } from './kube-client';
import { selfSignedCertificate } from '../observability/self-signed-certificate';

// A real TLS server standing in for the API server's transport (not its API):
// it counts TLS handshakes and answers every request with an empty list.
describe('createKubeClients: connections', () => {
  const tls = selfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  let server: Server;
  let handshakes = 0;
  let requests = 0;
  let kc: KubeConfig;

  before(async () => {
    server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', metadata: {}, items: [] }));
    });
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(tls.cert).toString('base64') }],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reuses one TLS connection for sequential requests, across API groups, instead of a handshake per request', async () => {
    const clients = createKubeClients(kc);
    for (let i = 0; i < 10; i++) await clients.core.listNamespacedService({ namespace: 'shop' });
    await clients.networking.listNamespacedIngress({ namespace: 'shop' });
    assert.equal(requests, 11);
    assert.equal(handshakes, 1, `${handshakes} TLS handshakes for 11 requests`);
  });

  it('clients made again from the same config share its connections', async () => {
    handshakes = 0;
    const first = createKubeClients(kc);
    const second = createKubeClients(kc);
    await first.core.listNamespacedService({ namespace: 'shop' });
    await second.core.listNamespacedService({ namespace: 'shop' });
    assert.equal(handshakes, 0, 'the connection of the tests above is still open and reused');
  });

  it('opens at most as many connections as requests in flight', async () => {
    handshakes = 0;
    const clients = createKubeClients(kc);
    await Promise.all(Array.from({ length: 4 }, () => clients.core.listNamespacedService({ namespace: 'shop' })));
    for (let i = 0; i < 8; i++) await clients.core.listNamespacedService({ namespace: 'shop' });
    assert.ok(handshakes <= 4, `${handshakes} handshakes`);
  });
});
