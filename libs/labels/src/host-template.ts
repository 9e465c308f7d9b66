// The Ingress host template: `{name}.{namespace}.{domain}` by default,
// `{name}.abhilash.com` for the historic behaviour.

import { DNS1123_SUBDOMAIN_RULE, ingressHostProblem, isDns1123Subdomain } from './validation';

export const HOST_TEMPLATE_PLACEHOLDERS = ['name', 'namespace', 'domain'] as const;
export type HostTemplatePlaceholder = (typeof HOST_TEMPLATE_PLACEHOLDERS)[number];
export type HostTemplateValues = Record<HostTemplatePlaceholder, string>;

const PLACEHOLDER = /\{([^{}]*)\}/g;

function isPlaceholder(name: string): name is HostTemplatePlaceholder {
  return (HOST_TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name);
}

/** Fills {name}, {namespace} and {domain}; anything else is left as written. */
export function renderHost(template: string, values: HostTemplateValues): string {
  // A replacer function, so that a '$' in a value is never read as a pattern.
  return template.replace(PLACEHOLDER, (whole, key: string) => (isPlaceholder(key) ? values[key] : whole));
}

/**
 * Why `template` is not a usable host template, as reasons (empty when it is).
 * Rendering it with short sample names catches templates that can never give a
 * valid host (`{name}_x.com`, upper case) before any Deployment is seen.
 * `domain` undefined (itself invalid) skips that rendering.
 */
export function hostTemplateProblems(template: string, domain: string | undefined): string[] {
  const reasons: string[] = [];
  const unknown = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '').filter((key) => !isPlaceholder(key));
  for (const key of new Set(unknown)) {
    reasons.push(`unknown placeholder {${key}}; allowed: {name}, {namespace}, {domain}`);
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) {
    reasons.push('has an unmatched "{" or "}"');
  }
  if (!template.includes('{name}')) {
    // Without {name} every Deployment of a namespace (or the cluster) would
    // claim the same host and all but one would end in HostConflict.
    reasons.push('must contain {name}, so that each Deployment gets its own host');
  }
  // With an invalid domain a bad rendering would only repeat that problem.
  if (reasons.length === 0 && domain !== undefined) {
    const sample = renderHost(template, { name: 'a', namespace: 'b', domain });
    const why = ingressHostProblem(sample);
    if (why !== undefined) reasons.push(`renders invalid hosts such as "${sample}": a host ${why}`);
  }
  return reasons;
}

/**
 * A TLS Secret name that may name the Deployment: `{name}-tls` gives each
 * Ingress its own Secret (cert-manager issues one certificate per Ingress).
 * Only {name} and {namespace}; the result must be a DNS-1123 subdomain.
 */
export function renderSecretName(template: string, values: Pick<HostTemplateValues, 'name' | 'namespace'>): string {
  return template.replace(PLACEHOLDER, (whole, key: string) => (key === 'name' || key === 'namespace' ? values[key] : whole));
}

/** Why a TLS Secret template can never give a valid Secret name (undefined when it can). */
export function secretTemplateProblem(template: string): string | undefined {
  const unknown = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '').filter((key) => key !== 'name' && key !== 'namespace');
  if (unknown.length > 0) return `unknown placeholder {${unknown[0]}}; allowed: {name}, {namespace}`;
  const sample = renderSecretName(template, { name: 'a', namespace: 'b' });
  return isDns1123Subdomain(sample) ? undefined : `renders invalid Secret names such as "${sample}": it must be ${DNS1123_SUBDOMAIN_RULE}`;
}
