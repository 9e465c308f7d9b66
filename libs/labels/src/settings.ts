// Global settings, read once from the environment at start-up. Every bad
// value is collected so that one failed start shows the whole list, never the
// first problem only.

import { z } from 'zod';
import { hostTemplateProblems } from './host-template';
import type { LogLevel, Settings } from './types';
import {
  DNS1123_LABEL_RULE,
  DNS1123_SUBDOMAIN_RULE,
  isDns1123Label,
  isDns1123Subdomain,
  parseDecimalInteger,
  parseDecimalNumber,
} from './validation';

export const DEFAULT_DOMAIN = 'ekspose.local';
export const DEFAULT_HOST_TEMPLATE = '{name}.{namespace}.{domain}';
/** Skipped unless EKSPOSE_SKIP_NAMESPACES says otherwise, together with POD_NAMESPACE. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_WORKERS = 4;
export const MAX_WORKERS = 64;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];
export const DEFAULT_POD_NAMESPACE = 'ekspose';
export const DEFAULT_METRICS_PORT = 8080;
export const DEFAULT_HEALTH_PORT = 8081;
export const DEFAULT_BIND_ADDRESS = '0.0.0.0';
export const DEFAULT_RESYNC_SECONDS = 600;
export const DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS = 120;
export const DEFAULT_LEASE_DURATION_SECONDS = 15;
export const DEFAULT_LEASE_RENEW_DEADLINE_SECONDS = 10;
export const DEFAULT_LEASE_RETRY_PERIOD_SECONDS = 1;
/** setTimeout fires at once for delays above 2^31-1 ms, so no period may be longer. */
export const MAX_SECONDS = 2147483;

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

/**
 * One env var: unset (or empty, as a manifest's `value: ""` usually means)
 * gives the fallback; anything else must parse.
 */
function envVar<T>(parse: (value: string) => Parsed<T>, fallback: T, options: { emptyIsUnset?: boolean } = {}) {
  const emptyIsUnset = options.emptyIsUnset ?? true;
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined) return fallback;
      const value = raw.trim();
      if (value === '' && emptyIsUnset) return fallback;
      const result = parse(value);
      if (result.ok) return result.value;
      ctx.addIssue({ code: 'custom', message: result.reason });
      return z.NEVER;
    });
}

const integer = (min: number, max: number, note = '') => (value: string) => {
  const n = parseDecimalInteger(value, min, max);
  return n === undefined ? bad(`expected an integer from ${min} to ${max}${note}`) : ok(n);
};

const seconds = (min: number, minText: string) => (value: string) => {
  const n = parseDecimalNumber(value, 0, MAX_SECONDS);
  return n === undefined || n < min
    ? bad(`expected a number of seconds ${minText} up to ${MAX_SECONDS}, written in plain decimal (e.g. 1.5)`)
    : ok(n);
};

const dnsSubdomain = (value: string) => (isDns1123Subdomain(value) ? ok(value) : bad(`expected ${DNS1123_SUBDOMAIN_RULE}`));
const dnsLabel = (value: string) => (isDns1123Label(value) ? ok(value) : bad(`expected ${DNS1123_LABEL_RULE}`));

function splitList(value: string): string[] {
  return [...new Set(value.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
}

function namespaceList(value: string): Parsed<string[]> {
  const items = splitList(value);
  const invalid = items.filter((item) => !isDns1123Label(item));
  if (invalid.length > 0) {
    return bad(
      `expected a comma-separated list of namespace names, each ${DNS1123_LABEL_RULE}; not valid: ${invalid.map((i) => JSON.stringify(i)).join(', ')}`,
    );
  }
  return ok(items);
}

function isNatsUrl(value: string): boolean {
  if (!/^(nats|tls):\/\//.test(value)) return false;
  try {
    const url = new URL(value);
    return url.hostname !== '' && (url.pathname === '' || url.pathname === '/') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function natsUrlList(value: string): Parsed<string> {
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

function bindAddress(value: string): Parsed<string> {
  const valid = z.ipv4().safeParse(value).success || z.ipv6().safeParse(value).success || isDns1123Subdomain(value);
  return valid ? ok(value) : bad('expected an IPv4 or IPv6 address (0.0.0.0 or :: for all interfaces) or a host name');
}

function logLevel(value: string): Parsed<LogLevel> {
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  return level === undefined ? bad(`expected one of ${LOG_LEVELS.join(', ')}`) : ok(level);
}

function boolean(value: string): Parsed<boolean> {
  if (/^(true|1)$/i.test(value)) return ok(true);
  if (/^(false|0)$/i.test(value)) return ok(false);
  return bad('expected true, false, 1 or 0');
}

const PORT_NOTE = ' (0 picks a free port)';
const POSITIVE = 'greater than 0';

const envFields = {
    EKSPOSE_DOMAIN: envVar(dnsSubdomain, DEFAULT_DOMAIN),
    EKSPOSE_HOST_TEMPLATE: envVar((v) => ok(v), DEFAULT_HOST_TEMPLATE),
    EKSPOSE_INGRESS_CLASS: envVar<string | undefined>(dnsSubdomain, undefined),
    EKSPOSE_TLS_SECRET: envVar<string | undefined>(dnsSubdomain, undefined),
    EKSPOSE_WATCH_NAMESPACES: envVar(namespaceList, []),
    // Set to "" on purpose = skip nothing; so empty is not "unset" here.
    EKSPOSE_SKIP_NAMESPACES: envVar<string[] | undefined>(namespaceList, undefined, { emptyIsUnset: false }),
    NATS_URL: envVar(natsUrlList, DEFAULT_NATS_URL),
    EKSPOSE_WORKERS: envVar(integer(1, MAX_WORKERS), DEFAULT_WORKERS),
    LOG_LEVEL: envVar(logLevel, DEFAULT_LOG_LEVEL),
    // kubectl semantics: kept exactly as given (paths may hold spaces); "" = unset.
    KUBECONFIG: z
      .string()
      .optional()
      .transform((raw) => (raw === '' ? undefined : raw)),
    POD_NAMESPACE: envVar(dnsLabel, DEFAULT_POD_NAMESPACE),
    POD_NAME: envVar<string | undefined>((v) => ok(v), undefined),
    EKSPOSE_METRICS_PORT: envVar(integer(0, 65535, PORT_NOTE), DEFAULT_METRICS_PORT),
    EKSPOSE_HEALTH_PORT: envVar(integer(0, 65535, PORT_NOTE), DEFAULT_HEALTH_PORT),
    EKSPOSE_BIND_ADDRESS: envVar(bindAddress, DEFAULT_BIND_ADDRESS),
    EKSPOSE_RESYNC_SECONDS: envVar(seconds(1, 'from 1'), DEFAULT_RESYNC_SECONDS),
    EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS: envVar(seconds(1, 'from 1'), DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS),
    EKSPOSE_LEADER_ELECT: envVar(boolean, true),
    EKSPOSE_LEASE_DURATION_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_DURATION_SECONDS),
    EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_RENEW_DEADLINE_SECONDS),
    EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: envVar(seconds(Number.MIN_VALUE, POSITIVE), DEFAULT_LEASE_RETRY_PERIOD_SECONDS),
};

/** Every env var ekspose reads. */
export const SETTINGS_ENV_VARS = Object.keys(envFields) as Array<keyof typeof envFields>;

/**
 * The environment, parsed field by field, plus the checks that need more than
 * one field. Keys are the env var names, so a zod issue path names the var.
 * Built per call around the raw env, so that a cross-field check can blame the
 * var the user set rather than one left at its default.
 */
export function settingsEnvSchema(rawEnv: Record<string, string | undefined>) {
  const isSet = (key: string) => {
    const raw = rawEnv[key];
    return raw !== undefined && raw.trim() !== '';
  };
  return z.object(envFields).superRefine(
    (env, ctx) => {
      // Each check runs only when the fields it reads parsed, so a bad field is
      // reported once, by itself, and the other checks still run.
      const parsed = (...keys: string[]) => !ctx.issues.some((issue) => keys.includes(String(issue.path?.[0])));
      const problem = (key: keyof typeof env, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });

      const domain = parsed('EKSPOSE_DOMAIN') ? env.EKSPOSE_DOMAIN : undefined;
      for (const reason of hostTemplateProblems(env.EKSPOSE_HOST_TEMPLATE, domain)) {
        problem('EKSPOSE_HOST_TEMPLATE', reason);
      }

      if (parsed('EKSPOSE_LEASE_DURATION_SECONDS', 'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS', 'EKSPOSE_LEASE_RETRY_PERIOD_SECONDS')) {
        const pairs = [
          ['EKSPOSE_LEASE_RETRY_PERIOD_SECONDS', 'EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS'],
          ['EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS', 'EKSPOSE_LEASE_DURATION_SECONDS'],
        ] as const;
        for (const [lower, upper] of pairs) {
          if (env[lower] < env[upper]) continue;
          // Blame the one the user set: a default is not the mistake.
          const blameUpper = isSet(upper) && !isSet(lower);
          if (blameUpper) problem(upper, `must be greater than ${lower} (${env[lower]})`);
          else problem(lower, `must be less than ${upper} (${env[upper]})`);
        }
      }

      if (
        parsed('EKSPOSE_METRICS_PORT', 'EKSPOSE_HEALTH_PORT') &&
        env.EKSPOSE_METRICS_PORT !== 0 &&
        env.EKSPOSE_METRICS_PORT === env.EKSPOSE_HEALTH_PORT
      ) {
        const key = isSet('EKSPOSE_HEALTH_PORT') ? 'EKSPOSE_HEALTH_PORT' : 'EKSPOSE_METRICS_PORT';
        problem(key, 'the metrics and health servers need different ports (or 0 for a free one)');
      }

      if (parsed('EKSPOSE_WATCH_NAMESPACES', 'EKSPOSE_SKIP_NAMESPACES') && env.EKSPOSE_SKIP_NAMESPACES !== undefined) {
        const skip = env.EKSPOSE_SKIP_NAMESPACES;
        const both = env.EKSPOSE_WATCH_NAMESPACES.filter((ns) => skip.includes(ns));
        if (both.length > 0) {
          problem('EKSPOSE_SKIP_NAMESPACES', `also in EKSPOSE_WATCH_NAMESPACES: ${both.join(', ')}; a namespace cannot be both watched and skipped`);
        }
      }
    },
    { when: () => true },
  );
}

export interface SettingHelp {
  env: string;
  default: string;
  description: string;
}

/** Every setting, in the order --help shows them. */
export const SETTINGS_HELP: SettingHelp[] = [
  { env: 'EKSPOSE_DOMAIN', default: DEFAULT_DOMAIN, description: 'Domain filled into {domain} of the host template; a DNS-1123 subdomain.' },
  {
    env: 'EKSPOSE_HOST_TEMPLATE',
    default: DEFAULT_HOST_TEMPLATE,
    description:
      'Ingress host for a Deployment; placeholders {name}, {namespace}, {domain}; must contain {name}. "{name}.abhilash.com" is the historic behaviour. The ekspose.io/host annotation overrides it.',
  },
  { env: 'EKSPOSE_INGRESS_CLASS', default: '(none)', description: 'Default spec.ingressClassName of Ingresses; the ekspose.io/ingress-class annotation overrides it.' },
  { env: 'EKSPOSE_TLS_SECRET', default: '(none)', description: 'Default TLS Secret for the Ingress host; the ekspose.io/tls-secret annotation overrides it.' },
  { env: 'EKSPOSE_WATCH_NAMESPACES', default: '(all namespaces)', description: 'Comma-separated namespaces to watch; empty = all.' },
  {
    env: 'EKSPOSE_SKIP_NAMESPACES',
    default: `${SYSTEM_NAMESPACES.join(',')},$POD_NAMESPACE`,
    description:
      'Comma-separated namespaces never touched. When set, used exactly as given ("" skips none). The default leaves out any namespace named in EKSPOSE_WATCH_NAMESPACES.',
  },
  { env: 'NATS_URL', default: DEFAULT_NATS_URL, description: 'NATS server URL(s), comma-separated, nats:// or tls://.' },
  { env: 'EKSPOSE_WORKERS', default: String(DEFAULT_WORKERS), description: `Reconcile workers, 1 to ${MAX_WORKERS}.` },
  { env: 'LOG_LEVEL', default: DEFAULT_LOG_LEVEL, description: `One of ${LOG_LEVELS.join(', ')}.` },
  {
    env: 'KUBECONFIG',
    default: '(in-cluster, else ~/.kube/config)',
    description: "Kubeconfig path(s), ':'-separated as kubectl reads them.",
  },
  { env: 'POD_NAMESPACE', default: DEFAULT_POD_NAMESPACE, description: "The controllers' own namespace: skipped by default, and where the leader Lease lives." },
  { env: 'POD_NAME', default: '<hostname>-<pid>', description: 'This replica\'s identity for leader election.' },
  { env: 'EKSPOSE_METRICS_PORT', default: String(DEFAULT_METRICS_PORT), description: 'Port of /metrics; 0 picks a free port.' },
  { env: 'EKSPOSE_HEALTH_PORT', default: String(DEFAULT_HEALTH_PORT), description: 'Port of /healthz and /readyz; 0 picks a free port.' },
  { env: 'EKSPOSE_BIND_ADDRESS', default: DEFAULT_BIND_ADDRESS, description: 'Address both servers listen on.' },
  { env: 'EKSPOSE_RESYNC_SECONDS', default: String(DEFAULT_RESYNC_SECONDS), description: 'Period of the full resync, in seconds (at least 1).' },
  {
    env: 'EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS',
    default: String(DEFAULT_INFORMER_FAILURE_TOLERANCE_SECONDS),
    description: 'How long list/watch may keep failing (e.g. API server unreachable) before /healthz fails and the kubelet restarts the controller.',
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
];

function describeVar(key: string, env: Record<string, string | undefined>): string {
  const raw = env[key];
  if (raw === undefined || (raw.trim() === '' && key !== 'EKSPOSE_SKIP_NAMESPACES')) {
    const fallback = SETTINGS_HELP.find((h) => h.env === key)?.default ?? '(none)';
    return `${key} (unset, default ${fallback})`;
  }
  const shown = key === 'NATS_URL' ? redactUrlCredentials(raw) : raw;
  return `${key}=${JSON.stringify(shown)}`;
}

export type LoadSettingsResult = { ok: true; settings: Settings } | { ok: false; problems: string[] };

/**
 * Reads and checks every setting. `defaults` supplies what only the process
 * knows (kept out of here so this stays free of I/O), for the POD_NAME fallback.
 */
export function loadSettings(
  env: Record<string, string | undefined>,
  defaults: { hostname?: string; pid?: number } = {},
): LoadSettingsResult {
  const result = settingsEnvSchema(env).safeParse(env);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map((issue) => {
        const key = issue.path[0];
        return typeof key === 'string' ? `${describeVar(key, env)}: ${issue.message}` : issue.message;
      }),
    };
  }
  const e = result.data;
  const watchNamespaces = e.EKSPOSE_WATCH_NAMESPACES;
  const skipNamespaces =
    e.EKSPOSE_SKIP_NAMESPACES ??
    [...new Set([...SYSTEM_NAMESPACES, e.POD_NAMESPACE])].filter((ns) => !watchNamespaces.includes(ns));
  const settings: Settings = {
    domain: e.EKSPOSE_DOMAIN,
    hostTemplate: e.EKSPOSE_HOST_TEMPLATE,
    watchNamespaces,
    skipNamespaces,
    natsUrl: e.NATS_URL,
    workers: e.EKSPOSE_WORKERS,
    logLevel: e.LOG_LEVEL,
    podNamespace: e.POD_NAMESPACE,
    identity: e.POD_NAME ?? defaultIdentity(defaults),
    metricsPort: e.EKSPOSE_METRICS_PORT,
    healthPort: e.EKSPOSE_HEALTH_PORT,
    bindAddress: e.EKSPOSE_BIND_ADDRESS,
    resyncSeconds: e.EKSPOSE_RESYNC_SECONDS,
    informerFailureToleranceSeconds: e.EKSPOSE_INFORMER_FAILURE_TOLERANCE_SECONDS,
    leaderElection: e.EKSPOSE_LEADER_ELECT,
    leaseDurationSeconds: e.EKSPOSE_LEASE_DURATION_SECONDS,
    leaseRenewDeadlineSeconds: e.EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS,
    leaseRetryPeriodSeconds: e.EKSPOSE_LEASE_RETRY_PERIOD_SECONDS,
  };
  if (e.EKSPOSE_INGRESS_CLASS !== undefined) settings.ingressClass = e.EKSPOSE_INGRESS_CLASS;
  if (e.EKSPOSE_TLS_SECRET !== undefined) settings.tlsSecret = e.EKSPOSE_TLS_SECRET;
  return { ok: true, settings };
}

function defaultIdentity({ hostname, pid }: { hostname?: string; pid?: number }): string {
  const suffix = pid === undefined ? '' : `-${pid}`;
  return hostname ? `${hostname}${suffix}` : `ekspose${suffix}`;
}

/** Whether Deployments (and owned objects) in `namespace` are ekspose's business. */
export function shouldWatchNamespace(namespace: string, settings: Settings): boolean {
  if (settings.watchNamespaces.length > 0 && !settings.watchNamespaces.includes(namespace)) return false;
  return !settings.skipNamespaces.includes(namespace);
}

/** The NATS servers of `natsUrl`, one URL each, as the NATS client's `servers` option takes them. */
export function natsServers(natsUrl: string): string[] {
  return splitList(natsUrl);
}

/** A URL with its password (or its token, when there is only a user part) replaced by `***`, for logs. */
export function redactUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon === -1 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** Settings safe to log at start-up. */
export function redactSettings(settings: Settings): Settings {
  return { ...settings, natsUrl: natsServers(settings.natsUrl).map(redactUrlCredentials).join(',') };
}

/** The `--help` text: what the app is and every setting with its default. */
export function formatSettingsHelp(appName: string, summary: string): string {
  const lines = [
    `${appName}: ${summary}`,
    '',
    `Usage: ${appName} [--help | --version]`,
    '',
    'Settings are read from environment variables (an empty value counts as unset,',
    'except for EKSPOSE_SKIP_NAMESPACES). Bad settings stop the start with every problem listed.',
    '',
  ];
  for (const setting of SETTINGS_HELP) {
    lines.push(`  ${setting.env}  (default: ${setting.default})`);
    lines.push(`      ${setting.description}`);
  }
  return `${lines.join('\n')}\n`;
}
