// Runs an app's main.ts the way its container does (plain env, no cluster
// needed for what is checked), for the apps' own command-line tests.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { workspaceRoot } from './binaries';

export interface AppRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx apps/<app>/src/main.ts ...args` with exactly `env` (plus PATH). */
export function runAppMain(app: string, args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<AppRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(workspaceRoot(), 'apps', app, 'src', 'main.ts'), ...args], {
      cwd: workspaceRoot(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/nonexistent', ...env },
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
