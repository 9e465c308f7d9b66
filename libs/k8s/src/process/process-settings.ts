// The settings of the controller process: how it talks to NATS, how many
// workers, how it logs, where its probes listen, how it resyncs and elects a
// leader. The runtime reads them (controller host, elector, bootstrap); the
// Deployment-side settings are libs/labels' (settings.ts).
import { z } from 'zod';
import {
  type CompositeFlag,
  type Env,
  type ProcessFacts,
  type SettingHelp,
  type SettingsGroup,
  bad,
  boolean,
  dnsLabel,
  envVar,
  integer,
  isDns1123Subdomain,
  isSet,
  ok,
  parseGroup,
  redactUrlCredentials,
  seconds,
  splitList,
} from '@ekspose/labels';
import { MAX_SHARDS, MIN_SHARDS } from '../shards/shard-ranges';
import { DEFAULT_LEASE_DURATION_SECONDS, DEFAULT_LEASE_RENEW_DEADLINE_SECONDS, DEFAULT_LEASE_RETRY_PERIOD_SECONDS } from '../lease/lease-timings';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ProcessSettings {
  natsUrl: string;
  /** NATS user and password (NATS_USER, NATS_PASSWORD); both or neither. */
  natsUser?: string;
  natsPassword?: string;
  /** Copies of the EKSPOSE stream in a JetStream cluster. */
  natsStreamReplicas: number;
  workers: number;
  logLevel: LogLevel;
  /** The controllers' own namespace (POD_NAMESPACE); skipped by default, and where Leases live. */
  podNamespace: string;
  /** This replica's identity for leader election (POD_NAME, else hostname-pid). */
  identity: string;
  metricsPort: number;
  healthPort: number;
  /** Bind address for both servers. */
  bindAddress: string;
  /** /metrics over HTTPS with TokenReview + SubjectAccessReview (true), or plain HTTP open to all. */
  metricsSecure: boolean;
  /** Folder with tls.crt and tls.key for /metrics; a self-signed certificate when unset. */
  metricsCertDir?: string;
  resyncSeconds: number;
  /** List/watch failing longer than this makes /readyz fail (never /healthz: an API outage is not a reason to restart). */
  informerFailureToleranceSeconds: number;
  leaderElection: boolean;
  leaseDurationSeconds: number;
  leaseRenewDeadlineSeconds: number;
  leaseRetryPeriodSeconds: number;
  /**
   * Hash ranges of the namespace space the controller's replicas share
   * (EKSPOSE_SHARDS): 1 is one leader doing everything, more lets every
   * replica serve its share (docs/decisions/0010-shards.md).
   */
  shards: number;
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/**
 * 4: measured against 16 on a 2-core plane with Events held during the burst
 * (0.94x against 0.54x a raw client's rate at 200, 13 MiB less RSS);
 * docs/decisions/0013-events-yield-and-workers.md, tools/bench/README.md.
 */
export const DEFAULT_WORKERS = 4;
export const MAX_WORKERS = 64;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];
export const DEFAULT_METRICS_PORT = 8080;
export const DEFAULT_HEALTH_PORT = 8081;
export const DEFAULT_BIND_ADDRESS = '0.0.0.0';
export const DEFAULT_RESYNC_SECONDS = 600;
export const DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS = 120;
const DEFAULT_POD_NAMESPACE = 'ekspose';

function isNatsUrl(value: string): boolean {
  if (!/^(nats|tls):\/\//.test(value)) return false;
  try {
    const url = new URL(value);
    return url.hostname !== '' && (url.pathname === '' || url.pathname === '/') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function natsUrlList(value: string) {
  const items = splitList(value);
  const invalid = items.filter((item) => !isNatsUrl(item));
  if (items.length === 0 || invalid.length > 0) {
    return bad(
      `expected one or more nats:// or tls:// URLs (host, optional port and credentials, no path), separated by commas` +
        (items.length > 1 && invalid.length > 0 ? `; not valid: ${invalid.map((i) => JSON.stringify(redactUrlCredentials(i))).join(', ')}` : ''),
    );
  }
  return ok(items.join(','));
}

function bindAddress(value: string) {
  const valid = z.ipv4().safeParse(value).success || z.ipv6().safeParse(value).success || isDns1123Subdomain(value);
  return valid ? ok(value) : bad('expected an IPv4 or IPv6 address (0.0.0.0 or :: for all interfaces) or a host name');
}

function logLevel(value: string) {
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  return level === undefined ? bad(`expected one of ${LOG_LEVELS.join(', ')}`) : ok(level);
}

const PORT_NOTE = ' (0 picks a free port)';
const POSITIVE = 'greater than 0';

const processFields = {
  NATS_URL: envVar(natsUrlList, DEFAULT_NATS_URL),
  NATS_USER: envVar<string | undefined>((v) => ok(v), undefined),
  NATS_PASSWORD: envVar<string | undefined>((v) => ok(v), undefined),
  NATS_STREAM_REPLICAS: envVar(integer(1, 5), 1),
  EKSPOSE_WORKERS: envVar(integer(1, MAX_WORKERS), DEFAULT_WORKERS),
  LOG_LEVEL: envVar(logLevel, DEFAULT_LOG_LEVEL),
  // kubectl semantics: kept exactly as given (paths may hold spaces); "" = unset. Read by loadKubeConfig.
  KUBECONFIG: z
    .string()
    .optional()
    .transform((raw) => (raw === '' ? undefined : raw)),
  POD_NAMESPACE: envVar(dnsLabel, DEFAULT_POD_NAMESPACE),
  POD_NAME: envVar<string | undefined>((v) => ok(v), undefined),
  EKSPOSE_METRICS_PORT: envVar(integer(0, 65535, PORT_NOTE), DEFAULT_METRICS_PORT),
  EKSPOSE_HEALTH_PORT: envVar(integer(0, 65535, PORT_NOTE), DEFAULT_HEALTH_PORT),
  EKSPOSE_BIND_ADDRESS: envVar(bindAddress, DEFAULT_BIND_ADDRESS),
  EKSPOSE_METRICS_SECURE: envVar(boolean, true),
  EKSPOSE_METRICS_CERT_DIR: envVar<string | undefined>((v) => ok(v), undefined),
  EKSPOSE_RESYNC_SECONDS: envVar(seconds(1, 'from 1'), DEFAULT_RESYNC_SECONDS),
  EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS: envVar(seconds(1, 'from 1'), DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS),
  EKSPOSE_LEADER_ELECT: envVar(boolean, true),
  EKSPOSE_LEASE_DURATION_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_DURATION_SECONDS),
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_RENEW_DEADLINE_SECONDS),
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_RETRY_PERIOD_SECONDS),
  EKSPOSE_SHARDS: envVar(integer(MIN_SHARDS, MAX_SHARDS), MIN_SHARDS),
};

/** Built per call around the raw env, so that a cross-field check can blame the var the user set rather than a default. */
function processSchema(rawEnv: Env) {
  return z.object(processFields).superRefine((env, ctx) => {
    const parsed = (...keys: string[]) => !ctx.issues.some((issue) => keys.includes(String(issue.path?.[0])));
    const problem = (key: keyof typeof env, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
    if (parsed('EKSPOSE_LEASE_DURATION_SECONDS', 'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS', 'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS')) {
      const pairs = [
        ['EKSPOSE_LEASE_RETRY_PERIOD_SECONDS', 'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS'],
        ['EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS', 'EKSPOSE_LEASE_DURATION_SECONDS'],
      ] as const;
      for (const [lower, upper] of pairs) {
        if (env[lower] < env[upper]) continue;
        // Blame the one the user set: a default is not the mistake.
        if (isSet(rawEnv, upper) && !isSet(rawEnv, lower)) problem(upper, `must be greater than ${lower} (${env[lower]})`);
        else problem(lower, `must be less than ${upper} (${env[upper]})`);
      }
    }
    if (parsed('EKSPOSE_METRICS_PORT', 'EKSPOSE_HEALTH_PORT') && env.EKSPOSE_METRICS_PORT !== 0 && env.EKSPOSE_METRICS_PORT === env.EKSPOSE_HEALTH_PORT) {
      const key = isSet(rawEnv, 'EKSPOSE_HEALTH_PORT') ? 'EKSPOSE_HEALTH_PORT' : 'EKSPOSE_METRICS_PORT';
      problem(key, 'the metrics and health servers need different ports (or 0 for a free one)');
    }
    if ((env.NATS_USER === undefined) !== (env.NATS_PASSWORD === undefined)) {
      problem(env.NATS_USER === undefined ? 'NATS_USER' : 'NATS_PASSWORD', 'NATS_USER and NATS_PASSWORD go together: set both or neither');
    }
    // Run even when a field failed: the checks above guard what they read.
  }, { when: () => true });
}

export const PROCESS_SETTINGS_HELP: readonly SettingHelp[] = [
  { env: 'NATS_URL', default: DEFAULT_NATS_URL, description: 'NATS server URL(s), comma-separated, nats:// or tls://.', secretUrl: true },
  { env: 'NATS_USER', default: '(none)', description: "NATS user, e.g. the controller's name in manifests/nats/auth.conf; with NATS_PASSWORD." },
  { env: 'NATS_PASSWORD', default: '(none)', description: 'Password of NATS_USER (from a Secret); never logged.' },
  {
    env: 'NATS_STREAM_REPLICAS',
    default: '1',
    description: 'Copies of the EKSPOSE stream, 1 to 5: as many as NATS has servers (3 in manifests/nats). A single server keeps 1 whatever this says.',
  },
  { env: 'EKSPOSE_WORKERS', default: String(DEFAULT_WORKERS), description: `Reconcile workers, 1 to ${MAX_WORKERS}.` },
  { env: 'LOG_LEVEL', default: DEFAULT_LOG_LEVEL, description: `One of ${LOG_LEVELS.join(', ')}.` },
  { env: 'KUBECONFIG', default: '(in-cluster, else ~/.kube/config)', description: "Kubeconfig path(s), ':'-separated as kubectl reads them." },
  { env: 'POD_NAMESPACE', default: DEFAULT_POD_NAMESPACE, description: "The controllers' own namespace: skipped by default, and where the leader Lease lives." },
  { env: 'POD_NAME', default: '<hostname>-<pid>', description: "This replica's identity for leader election." },
  { env: 'EKSPOSE_METRICS_PORT', default: String(DEFAULT_METRICS_PORT), description: 'Port of /metrics; 0 picks a free port.' },
  { env: 'EKSPOSE_HEALTH_PORT', default: String(DEFAULT_HEALTH_PORT), description: 'Port of /healthz and /readyz; 0 picks a free port.' },
  { env: 'EKSPOSE_BIND_ADDRESS', default: DEFAULT_BIND_ADDRESS, description: 'Address both servers listen on.' },
  {
    env: 'EKSPOSE_METRICS_SECURE',
    default: 'true',
    description:
      '/metrics over HTTPS, for bearer tokens the API server accepts (TokenReview) of users allowed to get /metrics (SubjectAccessReview; ClusterRole ekspose-metrics-reader). false: plain HTTP, open to anyone who can reach the port.',
  },
  {
    env: 'EKSPOSE_METRICS_CERT_DIR',
    default: '(self-signed)',
    description: 'Folder holding tls.crt and tls.key (e.g. a cert-manager Secret) for /metrics; without it a self-signed certificate is made at start.',
  },
  { env: 'EKSPOSE_RESYNC_SECONDS', default: String(DEFAULT_RESYNC_SECONDS), description: 'Period of the full resync, in seconds (at least 1).' },
  {
    env: 'EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS',
    default: String(DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS),
    description: 'How long list/watch may keep failing (e.g. API server unreachable) before /readyz fails; /healthz never does for it, so an outage restarts nothing.',
  },
  { env: 'EKSPOSE_LEADER_ELECT', default: 'true', description: 'Elect a leader through a Lease so that replicas > 1 are safe; true, false, 1 or 0.' },
  {
    env: 'EKSPOSE_LEASE_DURATION_SECONDS',
    default: String(DEFAULT_LEASE_DURATION_SECONDS),
    description: 'How long a standby waits before taking over a lease that is not renewed; decimals allowed.',
  },
  {
    env: 'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS',
    default: String(DEFAULT_LEASE_RENEW_DEADLINE_SECONDS),
    description: 'How long the leader keeps trying to renew before it gives up leading; must be less than the lease duration.',
  },
  {
    env: 'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS',
    default: String(DEFAULT_LEASE_RETRY_PERIOD_SECONDS),
    description: 'Time between attempts to acquire or renew the lease; must be less than the renew deadline.',
  },
  {
    env: 'EKSPOSE_SHARDS',
    default: String(MIN_SHARDS),
    description: `Hash ranges of the namespaces that the replicas share, ${MIN_SHARDS} to ${MAX_SHARDS}: 1 = one leader does all the work and the other replicas stand by; more = every replica serves its share (Leases ekspose-<controller>-member-<pod>). Every replica of a controller must run with the same value.`,
  },
];

/** `[host]:port`, `host:port` or `:port` (all interfaces), as kubebuilder's bind-address flags take them. */
function hostPort(portVar: string): CompositeFlag['expand'] {
  return (value) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
    if (!m) return bad('expected [host]:port, e.g. :8443 or 127.0.0.1:8443');
    const host = m[1] ?? m[2] ?? '';
    return ok({ [portVar]: m[3], ...(host === '' ? {} : { EKSPOSE_BIND_ADDRESS: host }) });
  };
}

/** kubebuilder's names for the two servers' addresses; both servers share one bind address. */
export const PROCESS_COMPOSITE_FLAGS: readonly CompositeFlag[] = [
  {
    flag: '--metrics-bind-address',
    value: '[host]:port',
    description: 'Sets --metrics-port, and --bind-address when a host is given (kubebuilder\'s flag).',
    expand: hostPort('EKSPOSE_METRICS_PORT'),
  },
  {
    flag: '--health-probe-bind-address',
    value: '[host]:port',
    description: 'Sets --health-port, and --bind-address when a host is given (kubebuilder\'s flag).',
    expand: hostPort('EKSPOSE_HEALTH_PORT'),
  },
];

function defaultIdentity({ hostname, pid }: ProcessFacts): string {
  const suffix = pid === undefined ? '' : `-${pid}`;
  return hostname ? `${hostname}${suffix}` : `ekspose${suffix}`;
}

/** The process settings as a group (see libs/labels env-settings.ts). */
export const processSettings: SettingsGroup<ProcessSettings> = {
  help: PROCESS_SETTINGS_HELP,
  load(env, facts = {}) {
    const result = parseGroup(processSchema(env), env, PROCESS_SETTINGS_HELP);
    if (!result.ok) return result;
    const e = result.settings;
    return {
      ok: true,
      settings: {
        natsUrl: e.NATS_URL,
        ...(e.NATS_USER !== undefined && e.NATS_PASSWORD !== undefined ? { natsUser: e.NATS_USER, natsPassword: e.NATS_PASSWORD } : {}),
        natsStreamReplicas: e.NATS_STREAM_REPLICAS,
        workers: e.EKSPOSE_WORKERS,
        logLevel: e.LOG_LEVEL,
        podNamespace: e.POD_NAMESPACE,
        identity: e.POD_NAME ?? defaultIdentity(facts),
        metricsPort: e.EKSPOSE_METRICS_PORT,
        healthPort: e.EKSPOSE_HEALTH_PORT,
        bindAddress: e.EKSPOSE_BIND_ADDRESS,
        metricsSecure: e.EKSPOSE_METRICS_SECURE,
        ...(e.EKSPOSE_METRICS_CERT_DIR !== undefined ? { metricsCertDir: e.EKSPOSE_METRICS_CERT_DIR } : {}),
        resyncSeconds: e.EKSPOSE_RESYNC_SECONDS,
        informerFailureToleranceSeconds: e.EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS,
        leaderElection: e.EKSPOSE_LEADER_ELECT,
        leaseDurationSeconds: e.EKSPOSE_LEASE_DURATION_SECONDS,
        leaseRenewDeadlineSeconds: e.EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS,
        leaseRetryPeriodSeconds: e.EKSPOSE_LEASE_RETRY_PERIOD_SECONDS,
        shards: e.EKSPOSE_SHARDS,
      },
    };
  },
};

/** The NATS servers of `natsUrl`, one URL each, as the NATS client's `servers` option takes them. */
export function natsServers(natsUrl: string): string[] {
  return splitList(natsUrl);
}

/** Settings safe to log at start-up. */
export function redactSettings<S extends Pick<ProcessSettings, 'natsUrl' | 'natsPassword'>>(settings: S): S {
  const redacted = { ...settings, natsUrl: natsServers(settings.natsUrl).map(redactUrlCredentials).join(',') };
  if (redacted.natsPassword !== undefined) redacted.natsPassword = '***';
  return redacted;
}
