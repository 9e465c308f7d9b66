// Small validators shared by the settings and the Deployment contract. They
// follow k8s.io/apimachinery/pkg/util/validation so that a value accepted here
// is accepted by the API server too.
import type { GatewayRef } from './types';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Plain decimal only: a leading zero, a sign, spaces or an exponent would all
// be accepted by Number() and silently change what the user wrote.
const DECIMAL_INTEGER = /^(0|[1-9][0-9]*)$/;
const DECIMAL_NUMBER = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const DOTTED_QUAD = /^[0-9]+(\.[0-9]+){3}$/;
// RFC 3986 pchar plus '/': unreserved / sub-delims / ':' / '@'; '%' is checked separately.
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
// The same sequences the API server refuses for pathType Prefix and Exact
// (k8s.io/kubernetes/pkg/apis/networking/validation).
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;
export const DNS1035_LABEL_MAX = 63;
export const IANA_SVC_NAME_MAX = 15;

export const DNS1123_LABEL_RULE = `a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most ${DNS1123_LABEL_MAX} characters)`;
export const DNS1123_SUBDOMAIN_RULE = `a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", each part starting and ending with a letter or digit, at most ${DNS1123_SUBDOMAIN_MAX} characters)`;
export const DNS1035_LABEL_RULE = `a DNS-1035 label (lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most ${DNS1035_LABEL_MAX} characters)`;
export const IANA_SVC_NAME_RULE = `an IANA service name (at most ${IANA_SVC_NAME_MAX} lowercase letters, digits and "-", with at least one letter, no "-" at either end and no "--")`;

export function isDns1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX && DNS1123_LABEL.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= DNS1123_SUBDOMAIN_MAX && DNS1123_SUBDOMAIN.test(value);
}

/** What a Service name must be. */
export function isDns1035Label(value: string): boolean {
  return value.length <= DNS1035_LABEL_MAX && DNS1035_LABEL.test(value);
}

/** A named container port (IANA_SVC_NAME, RFC 6335), usable as a Service targetPort. */
export function isIanaSvcName(value: string): boolean {
  return (
    value.length <= IANA_SVC_NAME_MAX &&
    IANA_SVC_NAME.test(value) &&
    !value.includes('--') &&
    /[a-z]/.test(value)
  );
}

/** An integer in [min, max] written in plain decimal; undefined otherwise. */
export function parseDecimalInteger(value: string, min: number, max: number): number | undefined {
  if (!DECIMAL_INTEGER.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

/** A number in [min, max] written in plain decimal, fractions allowed (`1.5`); undefined otherwise. */
export function parseDecimalNumber(value: string, min: number, max: number): number | undefined {
  if (!DECIMAL_NUMBER.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
}

/** A TCP port 1–65535 written in plain decimal (`8080`, not `08080`, `+80` or ` 80`); undefined otherwise. */
export function parsePort(value: string): number | undefined {
  return parseDecimalInteger(value, 1, 65535);
}

/**
 * Why `host` cannot be an Ingress rule host, or undefined when it can.
 * Stricter than a DNS-1123 subdomain in two ways the API server or DNS
 * enforce: no IP addresses, and no dot-separated part longer than 63.
 */
export function ingressHostProblem(host: string): string | undefined {
  if (!isDns1123Subdomain(host)) return `must be ${DNS1123_SUBDOMAIN_RULE}`;
  if (host.split('.').some((part) => part.length > DNS1123_LABEL_MAX)) {
    return `each dot-separated part of a host must be at most ${DNS1123_LABEL_MAX} characters`;
  }
  if (DOTTED_QUAD.test(host)) return 'must be a DNS name, not an IP address';
  return undefined;
}

/**
 * Why `path` cannot be an Ingress path with pathType Prefix, or undefined when
 * it can: an absolute URL path (RFC 3986 characters only, so no whitespace,
 * no query "?" and no fragment "#"), without the traversal sequences the API
 * server refuses.
 */
export function urlPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute URL path starting with "/"';
  for (let i = 0; i < path.length; i++) {
    const ch = path.charAt(i);
    if (ch === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
        return 'must write "%" only as a percent-encoding followed by two hex digits';
      }
      i += 2;
      continue;
    }
    if (!PATH_CHAR.test(ch)) {
      const shown = ch.trim() === '' ? 'whitespace' : JSON.stringify(ch);
      return `must not contain ${shown}: only URL path characters are allowed (no query "?", fragment "#" or whitespace)`;
    }
  }
  const sequence = INVALID_PATH_SEQUENCES.find((s) => path.includes(s));
  if (sequence !== undefined) return `must not contain "${sequence}"`;
  const suffix = INVALID_PATH_SUFFIXES.find((s) => path.endsWith(s));
  if (suffix !== undefined) return `must not end with "${suffix}"`;
  return undefined;
}

/** `<namespace>/<name>[/<sectionName>]` as a GatewayRef, or why not. */
export function parseGatewayRef(value: string): { ref: GatewayRef } | { reason: string } {
  const parts = value.split('/');
  const [namespace = '', name = '', sectionName] = parts;
  if (parts.length < 2 || parts.length > 3) return { reason: 'must be <namespace>/<name> or <namespace>/<name>/<sectionName>' };
  if (!isDns1123Label(namespace)) return { reason: `the namespace "${namespace}" must be ${DNS1123_LABEL_RULE}` };
  if (!isDns1123Subdomain(name)) return { reason: `the Gateway name "${name}" must be ${DNS1123_SUBDOMAIN_RULE}` };
  if (sectionName !== undefined && !isDns1123Label(sectionName)) return { reason: `the listener (sectionName) "${sectionName}" must be ${DNS1123_LABEL_RULE}` };
  return { ref: sectionName === undefined ? { namespace, name } : { namespace, name, sectionName } };
}

const ANNOTATION_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** Why `key` is not a Kubernetes annotation key (`[prefix/]name`), or undefined. */
export function annotationKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return `the prefix of "${key}" must be ${DNS1123_SUBDOMAIN_RULE}`;
  if (!ANNOTATION_NAME.test(name)) return `"${key}" is not an annotation key (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, after an optional prefix/)`;
  return undefined;
}

/**
 * Annotations ekspose passes on to an Ingress or HTTPRoute, from JSON: an
 * object of string values with valid keys, none holding "snippet" (the
 * ingress-nginx configuration-snippet family let anyone who can annotate run
 * code in the proxy), none ekspose's own.
 */
export function parseRouteAnnotations(json: string): { annotations: Record<string, string> } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { reason: 'is not valid JSON; expected an object of string values, e.g. {"nginx.ingress.kubernetes.io/proxy-body-size":"8m"}' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'must be a JSON object of string values' };
  const entries = Object.entries(value as Record<string, unknown>);
  const notStrings = entries.filter(([, v]) => typeof v !== 'string').map(([k]) => k);
  if (notStrings.length > 0) return { reason: `values must be strings; not a string: ${notStrings.join(', ')}` };
  const snippets = entries.filter(([k]) => /snippet/i.test(k)).map(([k]) => k);
  if (snippets.length > 0) return { reason: `refused: ${snippets.join(', ')} (a "snippet" annotation injects configuration into the proxy)` };
  const own = entries.filter(([k]) => k.startsWith('ekspose.io/')).map(([k]) => k);
  if (own.length > 0) return { reason: `ekspose.io/ keys are ekspose's own: ${own.join(', ')}` };
  for (const [k] of entries) {
    const problem = annotationKeyProblem(k);
    if (problem) return { reason: problem };
  }
  return { annotations: Object.fromEntries(entries) as Record<string, string> };
}
