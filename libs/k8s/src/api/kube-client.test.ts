import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClients, customResourceSource, serviceSource, watchInactivityMs, watchPath } from './kube-client';
import { selfSignedCertificate } from '../observability/self-signed-certificate';

/** A real TLS server on a free port, and a KubeConfig that trusts it and sends a token. */
async function tlsServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; kc: KubeConfig }> {
  const tls = selfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const server = createServer({ cert: tls.cert, key: tls.key }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(tls.cert).toString('base64') }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { server, kc };
}

// A real TLS server standing in for the API server's transport (not its API):
// it counts TLS handshakes and answers every request with an empty list.
describe('createKubeClients: connections', () => {
  let server: Server;
  let handshakes = 0;
  let requests = 0;
  let kc: KubeConfig;

  before(async () => {
    ({ server, kc } = await tlsServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', metadata: {}, items: [] }));
    }));
    server.on('secureConnection', () => handshakes++);
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
    // undici's pool may still count a connection busy for a moment after its response has been read,
    // so back-to-back requests alternate between two connections; without reuse it is one per request (11).
    assert.ok(handshakes <= 2, `${handshakes} TLS handshakes for 11 requests`);
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

// The same kind of TLS server, answering as kube-apiserver does with ShardedListAndWatch on:
// a list echoes its shardSelector in metadata.shardInfo; a watch sends its headers, then
// nothing until an event (none here), as a quiet resource between bookmarks.
describe('sources: shard selector, metadata view and quiet watches', () => {
  let server: Server;
  const seen: Array<{ url: URL; accept: string | undefined }> = [];
  const watches: ServerResponse[] = [];
  let kc: KubeConfig;

  function answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'https://x');
    seen.push({ url, accept: req.headers.accept });
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.push(res);
      return;
    }
    const selector = url.searchParams.get('shardSelector');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '7', ...(selector ? { shardInfo: { selector } } : {}) }, items: [] }));
  }

  before(async () => {
    ({ server, kc } = await tlsServer(answer));
  });

  after(() => {
    for (const res of watches) res.destroy();
    server.closeAllConnections();
    server.close();
  });

  const selector = `shardRange(object.metadata.namespace, '0x0000000000000000', '0x8000000000000000')`;

  it('a typed list sends the shardSelector and hands back the shardInfo the server echoed', async () => {
    seen.length = 0;
    const page = await serviceSource(createKubeClients(kc)).list({ limit: 10, shardSelector: selector });
    assert.equal(seen[0]?.url.searchParams.get('shardSelector'), selector);
    assert.equal(seen[0]?.url.searchParams.get('limit'), '10');
    assert.equal(page.metadata?.shardInfo?.selector, selector);
    assert.equal(page.metadata?.resourceVersion, '7');
  });

  it('a custom-resource list does the same, and the metadata view asks for PartialObjectMetadataList', async () => {
    seen.length = 0;
    const source = customResourceSource(createKubeClients(kc), { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' }, 'metadata');
    const page = await source.list({ limit: 10, shardSelector: selector });
    assert.equal(seen[0]?.url.pathname, '/apis/gateway.networking.k8s.io/v1/httproutes');
    assert.equal(seen[0]?.url.searchParams.get('shardSelector'), selector);
    assert.match(seen[0]?.accept ?? '', /as=PartialObjectMetadataList/);
    assert.equal(page.metadata?.shardInfo?.selector, selector);
  });

  it('without a selector a list sends none (and a server without the gate echoes none)', async () => {
    seen.length = 0;
    const page = await serviceSource(createKubeClients(kc)).list({ limit: 10 });
    assert.equal(seen[0]?.url.searchParams.has('shardSelector'), false);
    assert.equal(page.metadata?.shardInfo, undefined);
  });

  it('a metadata watch asks for PartialObjectMetadata, with its parameters', async () => {
    seen.length = 0;
    createKubeClients(kc);
    const watch = watchPath(kc, '/api/v1/services', 'metadata');
    const handle = await watch({ resourceVersion: '7', allowWatchBookmarks: true, timeoutSeconds: 300, shardSelector: selector }, () => undefined, () => undefined);
    handle.abort();
    assert.match(seen[0]?.accept ?? '', /as=PartialObjectMetadata;/);
    assert.equal(seen[0]?.url.searchParams.get('shardSelector'), selector);
    assert.equal(seen[0]?.url.searchParams.get('timeoutSeconds'), '300');
  });

  it("a quiet watch is not ended by client-node's own 30 s inactivity timer; only past the informer's watchdog", async (t) => {
    // client-node's Watch times with the global setTimeout: mocked, so 30 s pass at once.
    mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    createKubeClients(kc);
    const before = watches.length;
    let ended: unknown = 'not ended';
    const handle = await watchPath(kc, '/api/v1/services')(
      { resourceVersion: '7', allowWatchBookmarks: true, timeoutSeconds: 300 },
      () => undefined,
      (err) => (ended = err),
    );
    t.after(() => handle.abort());
    // The watch is established: the server holds it, and the client has the headers (its timer restarted).
    while (watches.length === before) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    mock.timers.tick(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ended, 'not ended', 'a minute without a byte (the bookmark interval) is not an error');
    mock.timers.tick(watchInactivityMs(300) - 60_000);
    for (let i = 0; i < 20 && ended === 'not ended'; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal((ended as unknown as Error | undefined)?.name, 'TimeoutError', 'past the watchdog, the backstop ends it');
  });
});
