// Counts the objects a list returns, as cheaply as the API allows: metadata
// only (PartialObjectMetadataList), plain JSON.parse, one kept-alive TLS
// connection; and, lighter still for the API server, notes when each object of
// a collection arrives through a metadata-only watch (Arrivals). The benchmarks
// run on a 2-core machine they share with the controller and the API server, so
// the instruments must stay light; the typed client's full list and
// deserialisation would cost far more CPU.
import type { ClientRequest } from 'node:http';
import { Agent, type RequestOptions, request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';
const METADATA_WATCH = 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json';

export class ObjectCounter {
  private constructor(
    private readonly server: string,
    private readonly options: RequestOptions,
    private readonly agent: Agent,
    /** Watches hold their connection for as long as they run: their own, never one of the lists' two. */
    private readonly watchAgent: Agent,
  ) {}

  static async create(kc: KubeConfig): Promise<ObjectCounter> {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('kubeconfig names no server');
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const agent = new Agent({ keepAlive: true, maxSockets: 2, ca: options.ca, cert: options.cert, key: options.key });
    const watchAgent = new Agent({ keepAlive: false, ca: options.ca, cert: options.cert, key: options.key });
    return new ObjectCounter(server, { headers: { ...options.headers, Accept: METADATA_LIST }, auth: options.auth }, agent, watchAgent);
  }

  /** Items in the list at `path` (e.g. `/api/v1/services?labelSelector=…`); rejects on a non-200 or after timeoutMs. */
  async count(path: string, timeoutMs = 5_000): Promise<number> {
    return (await this.list(path, timeoutMs)).length;
  }

  /** `namespace/name` of each item in the list at `path`. */
  async keys(path: string, timeoutMs = 30_000): Promise<string[]> {
    return (await this.list(path, timeoutMs)).map((item) => `${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`);
  }

  /** Starts a metadata-only watch of `path` (a collection and its query) from now: what arrives, and when. */
  arrivals(path: string): Arrivals {
    const arrivals = new Arrivals(this, path);
    arrivals.start();
    return arrivals;
  }

  /** A watch request of `path`, each line of its answer to onLine; onEnd once it ends, however. */
  watchRequest(path: string, onLine: (line: string) => void, onEnd: (err: Error) => void): ClientRequest {
    const url = new URL(path, this.server);
    url.searchParams.set('watch', '1');
    url.searchParams.set('timeoutSeconds', '3600');
    const headers = { ...this.options.headers, Accept: METADATA_WATCH };
    const req = request(url, { ...this.options, headers, agent: this.watchAgent, method: 'GET' }, (res) => {
      if (res.statusCode !== 200) {
        onEnd(new Error(`watch ${path}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim()) onLine(line);
        }
      });
      res.on('end', () => onEnd(new Error(`watch ${path}: ended by the server`)));
      res.on('error', onEnd);
    });
    req.on('error', onEnd);
    req.end();
    return req;
  }

  private list(path: string, timeoutMs: number): Promise<Array<{ metadata?: { namespace?: string; name?: string } }>> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.server), { ...this.options, agent: this.agent, method: 'GET', timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`));
          else resolve((JSON.parse(body) as { items?: Array<{ metadata?: { namespace?: string; name?: string } }> }).items ?? []);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

/**
 * When each object of a watched collection first arrived, as a metadata-only
 * watch from "now" delivers it. One instrument for every contender of the
 * convergence benchmark, the raw client included: a watch costs the API server
 * one event per object made, where polling lists of thousands of objects ten
 * times a second would load the plane of whoever is being polled.
 */
export class Arrivals {
  /** `namespace/name` → when its first ADDED arrived (ms since the epoch). */
  readonly seen = new Map<string, number>();
  private ended: Error | undefined;
  private stopped = false;
  private request: ClientRequest | undefined;

  constructor(
    private readonly counter: { watchRequest(path: string, onLine: (line: string) => void, onEnd: (err: Error) => void): ClientRequest },
    readonly path: string,
  ) {}

  start(): void {
    this.request = this.counter.watchRequest(
      this.path,
      (line) => {
        const event = JSON.parse(line) as { type?: string; object?: { metadata?: { namespace?: string; name?: string } } };
        if (event.type === 'ERROR') {
          this.ended ??= new Error(`watch ${this.path}: ${line.slice(0, 300)}`);
          return;
        }
        if (event.type !== 'ADDED') return;
        const key = `${event.object?.metadata?.namespace ?? ''}/${event.object?.metadata?.name ?? ''}`;
        if (!this.seen.has(key)) this.seen.set(key, Date.now());
      },
      (err) => {
        if (!this.stopped) this.ended ??= err;
      },
    );
  }

  /** Objects arrived so far; throws once the watch has ended on its own (the count would stop short). */
  get size(): number {
    if (this.ended) throw this.ended;
    return this.seen.size;
  }

  /** When the latest first arrival came. */
  get lastAt(): number {
    let last = 0;
    for (const at of this.seen.values()) last = Math.max(last, at);
    return last;
  }

  stop(): void {
    this.stopped = true;
    this.request?.destroy();
  }
}
