// One nats-server with JetStream on loopback, for the control plane and for
// tests that need only NATS: its own ports and store folder, stoppable and
// restartable on the same port with the same store (a NATS restart), or with
// the store wiped (a NATS that lost its volume).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from './binaries';
import { freePorts, httpGet } from './http-probe';
import { type ProcessHandle, startProcess } from './process-handle';
import { waitUntilReady } from './wait-ready';

export interface NatsServerOptions {
  /** The nats-server binary. Default: the control-plane build's (ensureBinaries). */
  bin?: string;
  /** Folder for the store (`<dir>/nats`) and the log. Default: a new temp folder, removed by dispose(). */
  dir?: string;
  /** Server name. Default `ekspose-local`. */
  name?: string;
  /** Bound for the server to become healthy. Default 30 s. */
  timeoutMs?: number;
}

export class NatsServer {
  readonly url: string;
  readonly monitorUrl: string;
  readonly storeDir: string;
  private handle: ProcessHandle | undefined;

  private constructor(
    readonly bin: string,
    readonly port: number,
    readonly monitorPort: number,
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly opts: NatsServerOptions,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    this.monitorUrl = `http://127.0.0.1:${monitorPort}`;
    this.storeDir = join(dir, 'nats');
  }

  /** Reserves its ports; nothing listens until start() (for "NATS is down at start" cases). */
  static async create(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const bin = opts.bin ?? join(await ensureBinaries(), 'nats-server');
    const [port, monitorPort] = await freePorts(2);
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ekspose-nats-'));
    return new NatsServer(bin, port!, monitorPort!, dir, !opts.dir, opts);
  }

  /** create() and start(); a server that fails to start is disposed. */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const server = await NatsServer.create(opts);
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  get running(): boolean {
    return this.handle?.running ?? false;
  }

  /** The process, to read its log or kill it; undefined before the first start(). */
  get process(): ProcessHandle | undefined {
    return this.handle;
  }

  /** Starts (or restarts, keeping the store) and resolves once it is healthy. No-op when it runs. */
  async start(): Promise<void> {
    if (this.running) return;
    this.handle = startProcess({
      name: 'nats-server',
      cmd: this.bin,
      args: ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort), '-sd', this.storeDir, '-n', this.opts.name ?? 'ekspose-local'],
      logFile: join(this.dir, 'nats-server.log'),
    });
    await waitUntilReady(
      this.handle,
      async () => {
        const res = await httpGet(`${this.monitorUrl}/healthz`);
        return res.status === 200 ? true : `healthz ${res.status}: ${res.body}`;
      },
      this.opts.timeoutMs ?? 30_000,
    );
  }

  /** SIGTERM and wait for the exit; the store stays, so start() brings the same streams back. */
  async stop(): Promise<void> {
    await this.handle?.stop();
  }

  /** Empties the JetStream store. The server must be stopped. */
  wipeStore(): void {
    if (this.running) throw new Error('stop the server before wiping its store');
    rmSync(this.storeDir, { recursive: true, force: true });
    mkdirSync(this.storeDir, { recursive: true });
  }

  /** Stops it and removes its folder when it made it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
