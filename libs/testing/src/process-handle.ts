import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartProcessOptions {
  /** Short name used in logs and errors, e.g. `kube-apiserver`. */
  name: string;
  /** Executable path (or a name found on the PATH of `env`). */
  cmd: string;
  args?: readonly string[];
  /** The child's complete environment. Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended to this file, written by the child itself. */
  logFile: string;
  /**
   * Ask the kernel to SIGKILL the child when this process dies, even by SIGKILL
   * (Linux `setpriv --pdeathsig`; silently skipped where that is unavailable). Default true.
   * Race-free: see {@link ARM_SCRIPT}; {@link ProcessHandle.armed} settles once it holds.
   */
  dieWithParent?: boolean;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every handle still running, so that an exiting test process can kill them all. */
const running = new Set<ProcessHandle>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: no waiting, just make sure nothing outlives us.
  process.on('exit', () => {
    killAllProcesses();
  });
}

let pdeathsigSupport: boolean | undefined;
function canUsePdeathsig(): boolean {
  if (pdeathsigSupport === undefined) {
    const probe = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    pdeathsigSupport = process.platform === 'linux' && probe.status === 0 && probe.stdout.includes('--pdeathsig');
  }
  return pdeathsigSupport;
}

/**
 * Run by `setpriv --pdeathsig SIGKILL` as the child's first program, so after the
 * parent-death signal is set: `$1` is the pid of the process that spawned it. If
 * that process died before the signal was set, the kernel had already given the
 * child another parent, which no signal will ever come from: `$PPID` (read at the
 * shell's start, after the prctl) then differs and the child ends instead of
 * running unowned. Otherwise it is armed: a parent death from now on kills it.
 * It says so on fd 3 (closed before the exec, so the program never sees it), then
 * becomes the program, keeping its pid.
 */
const ARM_SCRIPT = '[ "$PPID" = "$1" ] || exit 125; printf armed >&3; exec 3>&-; shift; exec "$@"';

/** The command line that runs `cmd` killed with `ownerPid` (which must be the pid spawning it), or not at all: see {@link ARM_SCRIPT}. */
export function armedCommand(cmd: string, args: readonly string[], ownerPid: number): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'SIGKILL', '--', '/bin/sh', '-c', ARM_SCRIPT, 'arm', String(ownerPid), cmd, ...args]];
}

/**
 * A child process whose output goes to a log file, with the operations a test
 * needs: signal it, kill it, wait for it to end, read what it wrote.
 */
export class ProcessHandle {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly pid: number;
  /** Settles when the process has ended (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /**
   * Settles once the kernel will kill the child when this process dies (true), or
   * once that is known not to be so: no pdeathsig asked for or available, or the
   * child ended first (false). Never rejects. Hand the pid to anyone who relies on
   * the child dying with us (another process, a test killing us) only after this.
   */
  readonly armed: Promise<boolean>;
  private exitInfo: ProcessExit | undefined;

  constructor(options: StartProcessOptions) {
    this.name = options.name;
    this.cmd = options.cmd;
    this.args = options.args ?? [];
    this.logFile = options.logFile;
    // The child writes straight to the file, so its log survives us and needs no pumping.
    const fd = openSync(options.logFile, 'a');
    const wrap = (options.dieWithParent ?? true) && canUsePdeathsig();
    const [command, argv] = wrap ? armedCommand(options.cmd, this.args, process.pid) : [options.cmd, [...this.args]];
    try {
      const child = spawn(command, argv, {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: wrap ? ['ignore', fd, fd, 'pipe'] : ['ignore', fd, fd],
        // Its own process group: a Ctrl-C in the terminal (which signals the whole
        // foreground group) must not kill the plane before the controllers that
        // use it have shut down. The owner stops it; pdeathsig covers a dead owner.
        detached: true,
      });
      this.exited = new Promise<ProcessExit>((resolve) => {
        const done = (exit: ProcessExit): void => {
          if (this.exitInfo) return;
          this.exitInfo = exit;
          running.delete(this);
          resolve(exit);
        };
        child.once('exit', (code, signal) => done({ code, signal }));
        child.once('error', () => done({ code: null, signal: null }));
      });
      const armPipe = wrap ? (child.stdio[3] as NodeJS.ReadableStream | null) : null;
      this.armed = armPipe
        ? new Promise<boolean>((resolve) => {
            let said = '';
            armPipe.setEncoding('utf8');
            armPipe.on('data', (chunk: string) => {
              said += chunk;
              if (said === 'armed') resolve(true);
            });
            armPipe.once('close', () => resolve(said === 'armed'));
            armPipe.once('error', () => resolve(false));
            // Not a reason to keep this process alive on its own.
            (armPipe as unknown as { unref?: () => void }).unref?.();
          })
        : Promise.resolve(false);
      if (child.pid === undefined) {
        throw new Error(`${this.name}: could not start ${options.cmd} (is it installed and executable?)`);
      }
      this.pid = child.pid;
    } finally {
      closeSync(fd);
    }
    installExitHook();
    running.add(this);
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  /** Sends a signal; false when the process has already ended. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for the end of the process; rejects after `timeoutMs` if it still runs. */
  async waitForExit(timeoutMs = 30_000): Promise<ProcessExit> {
    const timeout = new AbortController();
    try {
      return await Promise.race([
        this.exited,
        sleep(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
          throw new Error(`${this.name} (pid ${this.pid}) still running after ${timeoutMs}ms`);
        }),
      ]);
    } finally {
      timeout.abort();
    }
  }

  /** SIGTERM, then SIGKILL if it has not ended after `graceMs`. Safe to call twice. */
  async stop(graceMs = 5_000): Promise<ProcessExit> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    try {
      return await this.waitForExit(graceMs);
    } catch {
      return this.kill();
    }
  }

  /** SIGKILL, like a crash or an OOM kill, and wait for the end. */
  async kill(): Promise<ProcessExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  readLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last `lines` lines of the log, for error messages. */
  logTail(lines = 30): string {
    const all = this.readLog().trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /**
   * Polls the log until `pattern` appears after `fromOffset` (characters) and returns the
   * matching line. Rejects on timeout or when the process ends first.
   */
  async waitForLog(pattern: RegExp | string, options: { timeoutMs?: number; fromOffset?: number } = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const matches = (line: string): boolean =>
      typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line);
    for (;;) {
      const wasRunning = this.running;
      const line = this.readLog()
        .slice(options.fromOffset ?? 0)
        .split('\n')
        .find(matches);
      if (line !== undefined) return line;
      if (!wasRunning) {
        throw new Error(`${this.name} ended before logging ${String(pattern)}; last lines:\n${this.logTail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} did not log ${String(pattern)} in time; last lines:\n${this.logTail()}`);
      }
      await sleep(100);
    }
  }
}

/** Starts a child process; see {@link ProcessHandle}. */
export function startProcess(options: StartProcessOptions): ProcessHandle {
  return new ProcessHandle(options);
}

/** SIGKILLs every process started here that still runs; for exit paths that cannot wait. */
export function killAllProcesses(): void {
  for (const handle of running) handle.signal('SIGKILL');
}

/** True when a process with this pid exists (ours or not) and is not a zombie awaiting its reaper. */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat is "pid (comm) state ...", and comm may itself contain spaces or parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
