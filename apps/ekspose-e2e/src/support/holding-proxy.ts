// A TLS-terminating HTTP proxy between one controller and the API server, for
// what an admission webhook cannot do: hold a *read*'s answer. It serves with
// the plane's serving certificate (the controller trusts the plane's CA) and
// forwards every request, watches streamed, to the API server as the plane's
// admin (its client certificate: the controller's kubeconfig carries no
// credentials). The test can ask for the next request it chooses to be
// answered by the server at once but delivered to the controller only when the
// test lets go (optionally changed, e.g. made longer to parse): a Lease list
// read, then kept from the reader until it is paused.
import { readFileSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, type Server, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ControlPlane } from '@ekspose/testing';

/** A request whose answer the proxy holds: the server has answered it, the controller has not seen it. */
export interface HeldAnswer {
  method: string;
  path: string;
  /** Date.now() when the server's answer was complete (what it says is as of then). */
  answeredAt: number;
  status: number;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
}

export class HoldingProxy {
  /** Every request forwarded, in order: method and path. */
  readonly requests: Array<{ method: string; path: string; at: number }> = [];
  private match: ((method: string, path: string) => boolean) | undefined;
  private transform: ((body: Buffer) => Buffer) | undefined;
  private heldAnswer: HeldAnswer | undefined;
  private deliver: (() => Promise<void>) | undefined;

  constructor(
    private readonly server: Server,
    private readonly agent: Agent,
    private readonly upstream: URL,
  ) {}

  /** https://127.0.0.1:<port>, the server a kubeconfig names. */
  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * The next request for which `match` is true is forwarded at once and its
   * answer held until release(), then delivered as `transform` makes it (the
   * server's body as it was, by default).
   */
  holdNext(match: (method: string, path: string) => boolean, transform?: (body: Buffer) => Buffer): void {
    this.match = match;
    this.transform = transform;
  }

  /** The answer held now, once the server has given it. */
  get held(): HeldAnswer | undefined {
    return this.heldAnswer;
  }

  /**
   * Delivers the held answer (if any) to the controller: resolves once it is
   * written to the controller's socket, so a paused controller finds it waiting
   * there the moment it runs again, before any of its timers.
   */
  release(): Promise<void> {
    this.match = undefined;
    const deliver = this.deliver;
    this.deliver = undefined;
    return deliver ? deliver() : Promise.resolve();
  }

  async close(): Promise<void> {
    void this.release();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.agent.destroy();
  }

  /** @internal */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    this.requests.push({ method, path, at: Date.now() });
    const hold = this.match?.(method, path) === true;
    const transform = hold ? this.transform : undefined;
    if (hold) this.match = undefined;
    const headers = withoutHopByHop(req.headers);
    delete headers.authorization;
    // A held answer is kept as the server's plain JSON, so it can be changed before it goes out.
    if (hold) delete headers['accept-encoding'];
    headers.host = this.upstream.host;
    const up = request({ host: this.upstream.hostname, port: this.upstream.port, method, path, headers, agent: this.agent }, (answer) => {
      if (!hold) {
        res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const received = Buffer.concat(chunks);
        const body = transform && !answer.headers['content-encoding'] ? transform(received) : received;
        this.heldAnswer = { method, path, answeredAt: Date.now(), status: answer.statusCode ?? 502 };
        this.deliver = () =>
          new Promise<void>((resolve) => {
            this.heldAnswer = undefined;
            res.writeHead(answer.statusCode ?? 502, { ...withoutHopByHop(answer.headers), 'content-length': String(body.length) });
            res.end(body, resolve);
          });
      });
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    // A client gone (a watch closed) ends the request upstream too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}

/** Starts the proxy in front of the plane's API server. */
export async function startHoldingProxy(plane: ControlPlane): Promise<HoldingProxy> {
  const certs = plane.certificates;
  if (!certs) throw new Error('the plane has no certificates yet');
  const agent = new Agent({ keepAlive: true, ca: readFileSync(certs.caCert), cert: readFileSync(certs.adminCert), key: readFileSync(certs.adminKey) });
  const ref: { proxy?: HoldingProxy } = {};
  const server = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => ref.proxy!.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ref.proxy = new HoldingProxy(server, agent, new URL(plane.server));
  return ref.proxy;
}

/** A kubeconfig naming the proxy as the server, trusting the plane's CA, with no credentials (the proxy signs in). */
export function writeProxyKubeconfig(plane: ControlPlane, proxy: HoldingProxy, name: string): string {
  const certs = plane.certificates;
  if (!certs) throw new Error('the plane has no certificates yet');
  const path = join(plane.dir, `${name}.kubeconfig`);
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{ name: proxy, cluster: { server: "${proxy.url}", certificate-authority-data: "${readFileSync(certs.caCert).toString('base64')}" } }]
users: [{ name: through-proxy, user: {} }]
contexts: [{ name: proxy, context: { cluster: proxy, user: through-proxy } }]
current-context: proxy
`,
    { mode: 0o600 },
  );
  return path;
}
