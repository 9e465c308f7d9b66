// The machinery every group of settings uses: one zod field per environment
// variable, problems that name the variable, its value and why, groups that
// combine into one load (so one failed start lists every problem) and one
// --help. Pure: the environment is passed in.
import { z } from 'zod';
import {
  DNS1123_LABEL_RULE,
  DNS1123_SUBDOMAIN_RULE,
  isDns1123Label,
  isDns1123Subdomain,
  parseDecimalInteger,
  parseDecimalNumber,
} from './validation';

export type Env = Record<string, string | undefined>;
/** What only the process knows (kept out of the pure parsers), e.g. for the POD_NAME fallback. */
export interface ProcessFacts {
  hostname?: string;
  pid?: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };
export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

/** setTimeout fires at once for delays above 2^31-1 ms, so no period may be longer. */
export const MAX_SECONDS = 2147483;

/**
 * One env var: unset (or empty, as a manifest's `value: ""` usually means)
 * gives the fallback; anything else must parse.
 */
export function envVar<T>(parse: (value: string) => Parsed<T>, fallback: T, options: { emptyIsUnset?: boolean } = {}) {
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

export const integer = (min: number, max: number, note = '') => (value: string) => {
  const n = parseDecimalInteger(value, min, max);
  return n === undefined ? bad(`expected an integer from ${min} to ${max}${note}`) : ok(n);
};

export const seconds = (min: number, minText: string) => (value: string) => {
  const n = parseDecimalNumber(value, 0, MAX_SECONDS);
  return n === undefined || n < min
    ? bad(`expected a number of seconds ${minText} up to ${MAX_SECONDS}, written in plain decimal (e.g. 1.5)`)
    : ok(n);
};

export const dnsSubdomain = (value: string) => (isDns1123Subdomain(value) ? ok(value) : bad(`expected ${DNS1123_SUBDOMAIN_RULE}`));
export const dnsLabel = (value: string) => (isDns1123Label(value) ? ok(value) : bad(`expected ${DNS1123_LABEL_RULE}`));

export function boolean(value: string): Parsed<boolean> {
  if (/^(true|1)$/i.test(value)) return ok(true);
  if (/^(false|0)$/i.test(value)) return ok(false);
  return bad('expected true, false, 1 or 0');
}

/** A comma-separated list: trimmed, empty items dropped, duplicates once. */
export function splitList(value: string): string[] {
  return [...new Set(value.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
}

/** Whether the user set the var (an empty value counts as unset), so a cross-field check can blame that one. */
export function isSet(env: Env, key: string): boolean {
  const raw = env[key];
  return raw !== undefined && raw.trim() !== '';
}

/** A URL with its password (or its token, when there is only a user part) replaced by `***`, for logs. */
export function redactUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon === -1 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

export interface SettingHelp {
  env: string;
  /** The command-line flag; default: the env var without `EKSPOSE_`, lower case, `_` as `-` (EKSPOSE_WORKERS: --workers). */
  flag?: string;
  default: string;
  description: string;
  /** Shown with its credentials hidden in problems. */
  secretUrl?: boolean;
  /** An empty value is a value, not "unset". */
  emptyIsValue?: boolean;
}

export type LoadResult<T> = { ok: true; settings: T } | { ok: false; problems: string[] };

/** One group of settings: the env vars it reads (with their help) and how it reads them. */
export interface SettingsGroup<T> {
  help: readonly SettingHelp[];
  load(env: Env, facts?: ProcessFacts): LoadResult<T>;
}

function describeVar(key: string, env: Env, help: readonly SettingHelp[]): string {
  const entry = help.find((h) => h.env === key);
  const raw = env[key];
  if (raw === undefined || (raw.trim() === '' && !entry?.emptyIsValue)) return `${key} (unset, default ${entry?.default ?? '(none)'})`;
  return `${key}=${JSON.stringify(entry?.secretUrl ? redactUrlCredentials(raw) : raw)}`;
}

/** Runs a group's zod schema over the env and names the var, its value and why in each problem. */
export function parseGroup<S extends z.ZodType>(schema: S, env: Env, help: readonly SettingHelp[]): LoadResult<z.output<S>> {
  const result = schema.safeParse(env);
  if (result.success) return { ok: true, settings: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const key = issue.path[0];
      return typeof key === 'string' ? `${describeVar(key, env, help)}: ${issue.message}` : issue.message;
    }),
  };
}

/** Two groups read as one: every problem of both, or both settings merged. */
export function combineSettings<A, B>(a: SettingsGroup<A>, b: SettingsGroup<B>): SettingsGroup<A & B> {
  return {
    help: [...a.help, ...b.help],
    load(env, facts) {
      const [ra, rb] = [a.load(env, facts), b.load(env, facts)];
      if (ra.ok && rb.ok) return { ok: true, settings: { ...ra.settings, ...rb.settings } };
      return { ok: false, problems: [...(ra.ok ? [] : ra.problems), ...(rb.ok ? [] : rb.problems)] };
    },
  };
}

/** The flag of a setting: its own, or the env var without `EKSPOSE_`, lower case, words joined by `-`. */
export function flagOf(setting: Pick<SettingHelp, 'env' | 'flag'>): string {
  return setting.flag ?? `--${setting.env.replace(/^EKSPOSE_/, '').toLowerCase().replaceAll('_', '-')}`;
}

/** A flag that sets other settings from one value (kubebuilder's `--metrics-bind-address :8443`). */
export interface CompositeFlag {
  flag: string;
  value: string;
  description: string;
  /** The env vars it sets, or why the value is wrong. */
  expand(value: string): Parsed<Env>;
}

export interface ParsedFlags {
  /** The env vars the flags set: laid over the environment, so flags win. */
  env: Env;
  /** Env var → the flag (as given) that set it, so a problem can name what the user typed. */
  source: Record<string, string>;
  problems: string[];
  help: boolean;
  version: boolean;
}

const BOOLEAN_DEFAULTS = new Set(['true', 'false']);

/**
 * The command line, read as kubebuilder's controllers read theirs: `--flag=value`
 * or `--flag value`; a boolean setting alone (`--leader-elect`) means true.
 * Every setting of `help` is a flag; `composite` adds flags that set several.
 */
export function parseFlags(argv: readonly string[], help: readonly SettingHelp[], composite: readonly CompositeFlag[] = []): ParsedFlags {
  const out: ParsedFlags = { env: {}, source: {}, problems: [], help: false, version: false };
  const byFlag = new Map(help.map((h) => [flagOf(h), h]));
  const set = (key: string, value: string, given: string) => {
    if (out.source[key] !== undefined && out.env[key] !== value) {
      out.problems.push(`${given} sets ${key} to ${JSON.stringify(value)}, but ${out.source[key]} already set it to ${JSON.stringify(out.env[key])}`);
      return;
    }
    out.env[key] = value;
    out.source[key] = given;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (arg === '--version') {
      out.version = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const setting = byFlag.get(name);
    const multi = composite.find((c) => c.flag === name);
    if (!name.startsWith('--') || (!setting && !multi)) {
      out.problems.push(`unknown argument ${JSON.stringify(arg)}`);
      continue;
    }
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      if (setting && BOOLEAN_DEFAULTS.has(setting.default) && (next === undefined || next.startsWith('--') || !/^(true|false|1|0)$/i.test(next))) {
        value = 'true';
      } else if (next === undefined || next.startsWith('--')) {
        out.problems.push(`${name} needs a value (${name}=<value> or ${name} <value>)`);
        continue;
      } else {
        value = next;
        i++;
      }
    }
    if (setting) {
      set(setting.env, value, `${name}=${setting.secretUrl ? redactUrlCredentials(value) : value}`);
      continue;
    }
    const expanded = multi!.expand(value);
    if (!expanded.ok) {
      out.problems.push(`${name}=${JSON.stringify(value)}: ${expanded.reason}`);
      continue;
    }
    for (const [key, v] of Object.entries(expanded.value)) if (v !== undefined) set(key, v, `${name}=${value}`);
  }
  return out;
}

/** The `--help` text: what the app is and every setting, as a flag and as an env var, with its default. */
export function formatSettingsHelp(appName: string, summary: string, help: readonly SettingHelp[], composite: readonly CompositeFlag[] = []): string {
  const lines = [
    `${appName}: ${summary}`,
    '',
    `Usage: ${appName} [flags]`,
    '',
    'Every setting is a flag and an environment variable; a flag wins over the variable.',
    'Flags take --flag=value or --flag value; a true/false flag alone means true.',
    `An empty variable counts as unset, except ${help.filter((h) => h.emptyIsValue).map((h) => h.env).join(', ') || 'none'}. Bad settings stop the start with every problem listed.`,
    '',
    '  -h, --help  this text',
    '  --version   the version',
    '',
  ];
  for (const setting of help) {
    lines.push(`  ${flagOf(setting)}, ${setting.env}  (default: ${setting.default})`);
    lines.push(`      ${setting.description}`);
  }
  for (const flag of composite) {
    lines.push(`  ${flag.flag}=${flag.value}`);
    lines.push(`      ${flag.description}`);
  }
  return `${lines.join('\n')}\n`;
}
