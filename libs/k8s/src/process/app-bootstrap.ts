// The part of start-up every controller shares: command line, settings,
// logger, Kubernetes clients and the metrics registry. `resolveStartup` is
// pure (tested); `bootstrap` is the thin I/O wrapper the mains call.
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { type Env, type SettingsGroup, formatSettingsHelp, parseFlags } from '@ekspose/labels';
import { PROCESS_COMPOSITE_FLAGS, type ProcessSettings } from './process-settings';
import { type KubeClients, createKubeClients, loadKubeConfig } from '../api/kube-client';
import { createLogger } from './logger';
import { type ControllerMetrics, createControllerMetrics } from '../metrics/metrics';

export type Startup<S> =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'invalid'; text: string }
  | { kind: 'run'; settings: S; env: Env };

export interface StartupInput<S> {
  /** Every setting the app reads: the process settings and the product's own, combined. */
  settings: SettingsGroup<S>;
  name: string;
  summary: string;
  version: string;
  argv: string[];
  env: Record<string, string | undefined>;
  hostname?: string;
  pid?: number;
}

export function resolveStartup<S>(input: StartupInput<S>): Startup<S> {
  const { name } = input;
  const help = input.settings.help;
  const flags = parseFlags(input.argv, help, PROCESS_COMPOSITE_FLAGS);
  if (flags.help) return { kind: 'help', text: formatSettingsHelp(name, input.summary, help, PROCESS_COMPOSITE_FLAGS) };
  if (flags.version) return { kind: 'version', text: `${name} ${input.version}` };
  if (flags.problems.length > 0) {
    return { kind: 'invalid', text: `${name}: ${flags.problems.join('; ')}\nRun '${name} --help' for every flag and its default.` };
  }
  // Flags win over the environment.
  const env = { ...input.env, ...flags.env };
  const loaded = input.settings.load(env, { hostname: input.hostname, pid: input.pid });
  if (!loaded.ok) {
    // A problem names what the user typed: the flag when a flag set it.
    const problems = loaded.problems.map((p) => {
      const key = Object.keys(flags.source).find((k) => p.startsWith(`${k}=`));
      return key === undefined ? p : `${flags.source[key]}${p.slice(p.indexOf(':'))}`;
    });
    return {
      kind: 'invalid',
      text: `${name}: invalid settings (${problems.length}):\n${problems.map((p) => `  - ${p}`).join('\n')}\nRun '${name} --help' for every setting and its default.`,
    };
  }
  return { kind: 'run', settings: loaded.settings, env: flags.env };
}

export interface Bootstrapped<S extends ProcessSettings = ProcessSettings> {
  settings: S;
  log: Logger;
  clients: KubeClients;
  registry: Registry;
  metrics: ControllerMetrics;
}

export interface BootstrapOptions<S extends ProcessSettings> {
  name: string;
  summary: string;
  /** Every setting the app reads (the process settings combined with the product's). */
  settings: SettingsGroup<S>;
  /** What of the product's settings the start-up line shows. */
  describe?: (settings: S) => Record<string, unknown>;
}

/** For the apps' main: handles --help/--version and bad settings by exiting, as a CLI does. */
export function bootstrap<S extends ProcessSettings>(opts: BootstrapOptions<S>): Bootstrapped<S> {
  const version = process.env.EKSPOSE_VERSION ?? 'dev';
  const startup = resolveStartup({
    name: opts.name,
    summary: opts.summary,
    settings: opts.settings,
    version,
    argv: process.argv.slice(2),
    env: process.env,
    hostname: hostname(),
    pid: process.pid,
  });
  if (startup.kind === 'help' || startup.kind === 'version') {
    process.stdout.write(`${startup.text}\n`);
    process.exit(0);
  }
  if (startup.kind === 'invalid') {
    process.stderr.write(`${startup.text}\n`);
    process.exit(1);
  }
  const settings = startup.settings;
  // What the flags set is the environment from here on (KUBECONFIG for the client, above all).
  for (const [key, value] of Object.entries(startup.env)) process.env[key] = value;
  const log = createLogger(opts.name, settings.logLevel);
  let clients: KubeClients;
  try {
    clients = createKubeClients(loadKubeConfig());
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    process.stderr.write(`${opts.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const registry = new Registry();
  const metrics = createControllerMetrics(registry, opts.name, { defaultMetrics: true });
  log.info(
    {
      version,
      server: clients.config.getCurrentCluster()?.server,
      workers: settings.workers,
      natsUser: settings.natsUser ?? null,
      leaderElection: settings.leaderElection,
      ...opts.describe?.(settings),
    },
    'starting',
  );
  return { settings, log, clients, registry, metrics };
}
