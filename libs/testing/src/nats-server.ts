// One nats-server with JetStream on loopback, for the control plane and for
// tests that need only NATS: its own ports and store folder, stoppable and
// restartable on the same port with the same store (a NATS restart), or with
// the store wiped (a NATS that lost its volume).
//
// With `auth`, it runs under manifests/nats/auth.conf, the very file the
// manifests ship, with a random password per user; with `cluster`, it is one
// node of a JetStream cluster on loopback (see NatsCluster).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries, workspaceRoot } from './binaries';
import { freePorts, httpGet } from './http-probe';
import { type ProcessHandle, startProcess } from './process-handle';
import { waitUntilReady } from './wait-ready';

/** The users of manifests/nats/auth.conf. */
export const NATS_USERS = ['deployment-controller', 'service-controller', 'ingress-controller', 'admin'] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** What a client needs to connect as one user: the variables the controllers (and the nats CLI) read. */
export interface NatsClientEnv {
  NATS_URL: string;
  NATS_USER?: string;
  NATS_PASSWORD?: string;
}

/**
 * A random password nats-server can read from the environment: it parses the
 * variable as a config value, so one starting with a digit is taken for a
 * number ("9H..." fails to start the server). A letter, then hex, is always a string.
 */
export function natsPassword(): string {
  return `k${randomBytes(24).toString('hex')}`;
}

/** The environment variable auth.conf reads a user's password from. */
export function natsPasswordVariable(user: NatsUser): string {
  return `${user.replace(/-/g, '_').toUpperCase()}_NATS_PASSWORD`;
}

/** The shipped authorization rules. */
export function natsAuthConfigPath(): string {
  return join(workspaceRoot(), 'manifests', 'nats', 'auth.conf');
}

export interface NatsClusterNode {
  /** Cluster name, the same on every node. */
  name: string;
  /** This node's route port. */
  port: number;
  /** Route URLs of the other nodes, nats://127.0.0.1:<port>. */
  routes: string[];
}

export interface NatsServerOptions {
  /** The nats-server binary. Default: the control-plane build's (ensureBinaries). */
  bin?: string;
  /** Folder for the store (`<dir>/nats`), the config and the log. Default: a new temp folder, removed by dispose(). */
  dir?: string;
  /** Server name. Default `ekspose-local`. */
  name?: string;
  /** Bound for the server to become healthy. Default 30 s. */
  timeoutMs?: number;
  /** Require the users of manifests/nats/auth.conf, with these passwords (default: random ones). */
  auth?: boolean | Partial<Record<NatsUser, string>>;
  /** Run as one node of a cluster. */
  cluster?: NatsClusterNode;
  /**
   * Lame-duck mode (see {@link NatsServer.enterLameDuck}): how long the server waits before
   * it starts closing clients, and the span it closes them over (at most 1 s apart; nats-server
   * refuses less than 30 s). Default: nats-server's (10 s, 2 min); manifests/nats/nats.conf
   * sets 10 s and 30 s.
   */
  lameDuck?: { gracePeriodSeconds: number; durationSeconds: number };
}

export class NatsServer {
  readonly url: string;
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** Passwords by user when `auth` is on, else undefined. */
  readonly passwords: Readonly<Record<NatsUser, string>> | undefined;
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
    this.storeDir = join(dir, opts.cluster ? `nats-${opts.name ?? 'ekspose-local'}` : 'nats');
    if (opts.auth) {
      const given = opts.auth === true ? {} : opts.auth;
      this.passwords = Object.fromEntries(NATS_USERS.map((u) => [u, given[u] ?? natsPassword()])) as Record<NatsUser, string>;
    }
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

  /** The variables a client sets to connect as `user` (only NATS_URL when auth is off). */
  clientEnv(user: NatsUser, servers: string = this.url): NatsClientEnv {
    if (!this.passwords) return { NATS_URL: servers };
    return { NATS_URL: servers, NATS_USER: user, NATS_PASSWORD: this.passwords[user] };
  }

  /** Connection options for the NATS client as `user` ({} when auth is off). */
  credentials(user: NatsUser): { user?: string; pass?: string } {
    return this.passwords ? { user, pass: this.passwords[user] } : {};
  }

  /** Starts (or restarts, keeping the store) and resolves once it is healthy. No-op when it runs. */
  async start(): Promise<void> {
    if (this.running) return;
    this.launch();
    await this.healthy();
  }

  /** Starts the process without waiting (a cluster node is healthy only once a quorum runs). */
  launch(): void {
    if (this.running) return;
    const config = this.writeConfig();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [user, password] of Object.entries(this.passwords ?? {})) env[natsPasswordVariable(user as NatsUser)] = password;
    this.handle = startProcess({
      name: this.opts.name ?? 'nats-server',
      cmd: this.bin,
      args: ['-c', config],
      env,
      logFile: join(this.dir, `${this.opts.name ?? 'nats-server'}.log`),
    });
  }

  /** Resolves once /healthz answers 200 (JetStream included). */
  async healthy(): Promise<void> {
    if (!this.handle) throw new Error('nats-server was never started');
    await waitUntilReady(
      this.handle,
      async () => {
        const res = await httpGet(`${this.monitorUrl}/healthz`);
        return res.status === 200 ? true : `healthz ${res.status}: ${res.body}`;
      },
      this.opts.timeoutMs ?? 30_000,
    );
  }

  /**
   * What the StatefulSet's preStop hook does (manifests/nats/statefulset.yaml): `nats-server
   * --signal ldm=<pid>` with this server's binary, which sends SIGUSR2. Resolves once the server
   * logs that it entered lame-duck mode; it then stops taking clients, moves its own to the
   * other nodes over the lame-duck duration, and ends by itself.
   */
  async enterLameDuck(): Promise<string> {
    const handle = this.handle;
    if (!handle?.running) throw new Error(`${this.opts.name ?? 'nats-server'} is not running`);
    const from = handle.readLog().length;
    const signal = spawnSync(this.bin, ['--signal', `ldm=${handle.pid}`], { encoding: 'utf8', timeout: 30_000 });
    if (signal.status !== 0) throw new Error(`nats-server --signal ldm=${handle.pid} failed (${signal.status}): ${signal.stderr}`);
    return handle.waitForLog('Entering lame duck mode', { fromOffset: from, timeoutMs: 30_000 });
  }

  /** SIGTERM and wait for the exit; the store stays, so start() brings the same streams back. */
  async stop(): Promise<void> {
    await this.handle?.stop();
  }

  /** SIGKILL, as a node lost with its machine; the store stays. */
  async kill(): Promise<void> {
    await this.handle?.kill();
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

  private writeConfig(): string {
    const name = this.opts.name ?? 'ekspose-local';
    const lines = [
      `server_name: ${JSON.stringify(name)}`,
      `listen: "127.0.0.1:${this.port}"`,
      `http: "127.0.0.1:${this.monitorPort}"`,
      `jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`,
    ];
    const { lameDuck } = this.opts;
    if (lameDuck) lines.push(`lame_duck_grace_period: "${lameDuck.gracePeriodSeconds}s"`, `lame_duck_duration: "${lameDuck.durationSeconds}s"`);
    const { cluster } = this.opts;
    if (cluster) {
      lines.push(
        `cluster { name: ${JSON.stringify(cluster.name)}, listen: "127.0.0.1:${cluster.port}", routes: [${cluster.routes.map((r) => JSON.stringify(r)).join(', ')}] }`,
      );
    }
    if (this.passwords) {
      copyFileSync(natsAuthConfigPath(), join(this.dir, `${name}-auth.conf`));
      lines.push(`include "${name}-auth.conf"`);
    }
    const file = join(this.dir, `${name}.conf`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }
}
