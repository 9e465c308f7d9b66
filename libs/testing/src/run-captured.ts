// Runs a command to completion and hands back its exit code and output: for
// short commands a test inspects (kubectl, an app's --help), not for servers
// (those are ProcessHandles).
import { spawn } from 'node:child_process';

export interface CapturedRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCapturedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  input?: string;
}

/** Never rejects for a non-zero exit; rejects when the command cannot be started (or its stdin fails other than by EPIPE). */
export function runCaptured(cmd: string, args: readonly string[], options: RunCapturedOptions = {}): Promise<CapturedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits without reading all its input closes the pipe under the write: what it
    // printed and its exit code say what happened, not the EPIPE (which, unheard, failed the test).
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    if (options.input === undefined) child.stdin.end();
    else child.stdin.end(options.input);
  });
}
