import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';

export interface ProbeTls {
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  /** Accept any serving certificate (components that sign their own). */
  insecure?: boolean;
}

export interface ProbeResponse {
  status: number;
  body: string;
}

/** One GET, no retries; rejects on connection errors and after `timeoutMs`. */
export function httpGet(url: string, tls: ProbeTls = {}, timeoutMs = 3_000): Promise<ProbeResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = tls.token ? { authorization: `Bearer ${tls.token}` } : {};
    const options = url.startsWith('https:')
      ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure, headers, timeout: timeoutMs }
      : { headers, timeout: timeoutMs };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Free loopback ports, found by binding port 0. All are held open until every
 * one is known, so the same port is never handed out twice in one call.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      const server = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
