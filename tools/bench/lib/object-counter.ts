// Counts the objects a list returns, as cheaply as the API allows: metadata
// only (PartialObjectMetadataList), plain JSON.parse, one kept-alive TLS
// connection. The benchmark polls every 100 ms on a 2-core machine it shares
// with the controller and the API server, so the poller must stay light; the
// typed client's full list and deserialisation would cost far more CPU.
import { Agent, type RequestOptions, request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';

export class ObjectCounter {
  private constructor(
    private readonly server: string,
    private readonly options: RequestOptions,
    private readonly agent: Agent,
  ) {}

  static async create(kc: KubeConfig): Promise<ObjectCounter> {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('kubeconfig names no server');
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const agent = new Agent({ keepAlive: true, maxSockets: 2, ca: options.ca, cert: options.cert, key: options.key });
    return new ObjectCounter(server, { headers: { ...options.headers, Accept: METADATA_LIST }, auth: options.auth }, agent);
  }

  /** Items in the list at `path` (e.g. `/api/v1/services?labelSelector=…`); rejects on a non-200 or after timeoutMs. */
  async count(path: string, timeoutMs = 5_000): Promise<number> {
    return (await this.list(path, timeoutMs)).length;
  }

  /** `namespace/name` of each item in the list at `path`. */
  async keys(path: string, timeoutMs = 30_000): Promise<string[]> {
    return (await this.list(path, timeoutMs)).map((item) => `${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`);
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
  }
}
