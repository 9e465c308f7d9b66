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

/** The `--help` text: what the app is and every setting with its default. */
export function formatSettingsHelp(appName: string, summary: string, help: readonly SettingHelp[]): string {
  const lines = [
    `${appName}: ${summary}`,
    '',
    `Usage: ${appName} [--help | --version]`,
    '',
    'Settings are read from environment variables (an empty value counts as unset,',
    `except for ${help.filter((h) => h.emptyIsValue).map((h) => h.env).join(', ') || 'none'}). Bad settings stop the start with every problem listed.`,
    '',
  ];
  for (const setting of help) {
    lines.push(`  ${setting.env}  (default: ${setting.default})`);
    lines.push(`      ${setting.description}`);
  }
  return `${lines.join('\n')}\n`;
}
