// Runs the three built controllers as child processes with readable logs,
// for `npm run dev` and `npm start`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { prettyLine } from './pretty-log';

export const APPS = ['deployment-controller', 'service-controller', 'ingress-controller'] as const;

export function buildApps(root: string): void {
  console.log('==> building the three controllers (nx run-many -t build)');
  const result = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  });
  if (result.status !== 0) throw new Error('build failed');
}

export interface RunningControllers {
  stop(): Promise<void>;
  /** Resolves when any controller exits on its own. */
  exited: Promise<string>;
}

/** `env` is shared by the three; `perApp` adds what must differ (ports). */
export function runControllers(
  root: string,
  env: Record<string, string | undefined>,
  perApp: (app: (typeof APPS)[number], index: number) => Record<string, string> = () => ({}),
  raw = false,
): RunningControllers {
  const children: ChildProcess[] = [];
  let stopping = false;
  const exited = new Promise<string>((resolve) => {
    for (const [index, app] of APPS.entries()) {
      const child = spawn(process.execPath, ['--enable-source-maps', join(root, 'dist', 'apps', app, 'main.js')], {
        env: { ...process.env, POD_NAME: `${app}-local`, ...env, ...perApp(app, index) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => console.log(raw ? line : prettyLine(app, line)));
      }
      child.on('exit', (code, signal) => {
        if (!stopping) resolve(`${app} exited (${signal ?? `code ${code}`})`);
      });
      children.push(child);
    }
  });
  return {
    exited,
    async stop() {
      stopping = true;
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 12_000).unref();
            }),
        ),
      );
    },
  };
}
