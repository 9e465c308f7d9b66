import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createServer } from 'node:https';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from './self-signed-certificate';

describe('selfSignedCertificate', () => {
  it('is a v3 certificate OpenSSL reads: signed by its own key, with the names asked for, valid from an hour ago for a year', () => {
    const now = new Date('2026-11-30T12:00:00Z');
    const { cert, key } = selfSignedCertificate({ commonName: 'service-controller', altNames: ['localhost', '127.0.0.1', '::1', 'pod-a'], now });
    const x509 = new X509Certificate(cert);
    assert.equal(x509.subject, 'CN=service-controller');
    assert.equal(x509.issuer, 'CN=service-controller');
    assert.equal(x509.verify(x509.publicKey), true, 'self-signed');
    assert.equal(x509.checkPrivateKey(createPrivateKey(key)), true);
    assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:pod-a');
    assert.equal(new Date(x509.validFrom).toISOString(), '2026-11-30T11:00:00.000Z');
    assert.equal(new Date(x509.validTo).toISOString(), '2027-11-30T12:00:00.000Z');
    assert.notEqual(new X509Certificate(selfSignedCertificate({ commonName: 'x', altNames: ['x'] }).cert).serialNumber, x509.serialNumber);
  });

  it('serves TLS that a client trusting it verifies, hostname included; a client trusting nothing refuses it', async () => {
    const { cert, key } = selfSignedCertificate({ commonName: 'metrics', altNames: ['localhost'] });
    const server = createServer({ cert, key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const get = (ca?: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', servername: 'localhost', port, path: '/', ...(ca ? { ca } : {}) }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(await get(cert), 'ok');
      await assert.rejects(get(), /self.signed/i);
    } finally {
      server.close();
    }
  });

  it('refuses to make a certificate with no name', () => {
    assert.throws(() => selfSignedCertificate({ commonName: 'x', altNames: [] }), /at least one name/);
  });
});
