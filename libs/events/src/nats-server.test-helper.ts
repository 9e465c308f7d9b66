// A real nats-server for the tests: own loopback port, own JetStream store in
// a temp folder, stopped and cleaned up even when a test fails or the test
// process dies. Test-only; not exported from the lib.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Where the nats-server binary is, in order: $NATS_SERVER_BIN; $EKSPOSE_BIN_DIR;
 * the newest completed control-plane build (tools/controlplane/build.sh, same
 * cache root rules); the PATH. Throws, naming every place looked at.
 */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const looked: string[] = [];
  const explicit = env['NATS_SERVER_BIN'];
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new Error(`NATS_SERVER_BIN=${explicit} is not an executable file`);
  }
  const binDir = env['EKSPOSE_BIN_DIR'];
  if (binDir) {
    const candidate = join(binDir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
    looked.push(candidate);
  }
  const cacheRoot = env['EKSPOSE_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'ekspose');
  const builds = join(cacheRoot, 'controlplane');
  if (existsSync(builds)) {
    const complete = readdirSync(builds)
      .map((entry) => join(builds, entry, 'bin'))
      .filter((bin) => existsSync(join(bin, '.complete')) && isExecutable(join(bin, 'nats-server')))
      .sort((a, b) => statSync(join(b, '.complete')).mtimeMs - statSync(join(a, '.complete')).mtimeMs);
    if (complete[0]) return join(complete[0], 'nats-server');
  }
  looked.push(`${builds}/*/bin/nats-server (with .complete)`);
  for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  looked.push('nats-server on PATH');
  throw new Error(
    `no nats-server binary found; looked at: ${looked.join('; ')}. ` +
      'Build it with tools/controlplane/build.sh, or set NATS_SERVER_BIN.',
  );
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const live = new Set<NatsServerProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers are synchronous: kill and remove, no waiting.
  process.on('exit', () => {
    for (const server of live) server.disposeSync();
  });
}

let pdeathsig: boolean | undefined;
function canUsePdeathsig(): boolean {
  if (pdeathsig === undefined) {
    const probe = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    pdeathsig = process.platform === 'linux' && probe.status === 0 && probe.stdout.includes('--pdeathsig');
  }
  return pdeathsig;
}

export class NatsServerProcess {
  readonly bin: string;
  readonly port: number;
  readonly storeDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private output: string[] = [];

  private constructor(bin: string, port: number) {
    this.bin = bin;
    this.port = port;
    this.storeDir = mkdtempSync(join(tmpdir(), 'ekspose-nats-'));
    live.add(this);
    installExitHook();
  }

  /** A server that is not running yet, for "NATS is down at start" cases. */
  static async create(): Promise<NatsServerProcess> {
    return new NatsServerProcess(findNatsServerBinary(), await freeLoopbackPort());
  }

  static async start(): Promise<NatsServerProcess> {
    const server = await NatsServerProcess.create();
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (or restarts, keeping the store) and resolves once it accepts clients. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.child) return;
    this.output = [];
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    const [cmd, argv] = canUsePdeathsig() ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', this.bin, ...args]] : [this.bin, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`nats-server not ready within ${timeoutMs}ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(new Error(`${err.message}\n${this.output.slice(-20).join('\n')}`));
      };
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line) this.output.push(line);
        if (this.output.some((line) => line.includes('Server is ready'))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => fail(err));
      child.once('exit', (code, signal) => fail(new Error(`nats-server exited early (code ${code}, signal ${signal})`)));
    }).catch(async (err: unknown) => {
      await this.stop();
      throw err;
    });
  }

  /** Stops the process (the store stays, so start() brings the same streams back). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(killer);
    }
  }

  /** Empties the JetStream store, as a NATS that lost its volume would come back. Server must be stopped. */
  wipeStore(): void {
    if (this.child) throw new Error('stop the server before wiping its store');
    rmSync(this.storeDir, { recursive: true, force: true });
    mkdirSync(this.storeDir, { recursive: true });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
    live.delete(this);
  }

  disposeSync(): void {
    try {
      this.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(this.storeDir, { recursive: true, force: true });
    live.delete(this);
  }
}
