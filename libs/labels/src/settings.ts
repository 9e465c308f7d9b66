// The Deployment-side settings: what decides the objects ekspose makes
// (domain, host template, default ingress class and TLS secret) and which
// namespaces are its business. The process settings (ports, Lease timings,
// NATS, workers, log level) belong to the runtime: libs/k8s process-settings.ts.
import { z } from 'zod';
import { type Env, type SettingHelp, type SettingsGroup, bad, dnsSubdomain, envVar, ok, parseGroup, splitList } from './env-settings';
import { hostTemplateProblems, secretTemplateProblem } from './host-template';
import { type ExposeSettings, type GatewayRef, ROUTE_KINDS, type RouteKind } from './types';
import { DNS1123_LABEL_RULE, isDns1123Label, parseGatewayRef, parseRouteAnnotations } from './validation';

export const DEFAULT_DOMAIN = 'ekspose.local';
export const DEFAULT_HOST_TEMPLATE = '{name}.{namespace}.{domain}';
/** Skipped unless EKSPOSE_SKIP_NAMESPACES says otherwise, together with POD_NAMESPACE. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];
/** The controllers' own namespace when POD_NAMESPACE is not set (read here for the default skip list). */
export const DEFAULT_POD_NAMESPACE = 'ekspose';

function namespaceList(value: string) {
  const items = splitList(value);
  const invalid = items.filter((item) => !isDns1123Label(item));
  if (invalid.length > 0) {
    return bad(
      `expected a comma-separated list of namespace names, each ${DNS1123_LABEL_RULE}; not valid: ${invalid.map((i) => JSON.stringify(i)).join(', ')}`,
    );
  }
  return ok(items);
}

function secretTemplate(value: string) {
  const problem = secretTemplateProblem(value);
  return problem === undefined ? ok<string | undefined>(value) : bad(problem);
}

function routeAnnotations(value: string) {
  const parsed = parseRouteAnnotations(value);
  return 'annotations' in parsed ? ok<Record<string, string> | undefined>(parsed.annotations) : bad(parsed.reason);
}

function routeKind(value: string) {
  const kind = ROUTE_KINDS.find((k) => k === value.toLowerCase());
  return kind === undefined ? bad(`expected one of ${ROUTE_KINDS.join(', ')}`) : ok<RouteKind>(kind);
}

function gateway(value: string) {
  const parsed = parseGatewayRef(value);
  return 'ref' in parsed ? ok<GatewayRef | undefined>(parsed.ref) : bad(parsed.reason);
}

const exposeFields = {
  EKSPOSE_DOMAIN: envVar(dnsSubdomain, DEFAULT_DOMAIN),
  EKSPOSE_HOST_TEMPLATE: envVar((v) => ok(v), DEFAULT_HOST_TEMPLATE),
  EKSPOSE_INGRESS_CLASS: envVar<string | undefined>(dnsSubdomain, undefined),
  EKSPOSE_TLS_SECRET: envVar<string | undefined>(secretTemplate, undefined),
  EKSPOSE_ROUTE_KIND: envVar(routeKind, 'ingress' as RouteKind),
  EKSPOSE_GATEWAY: envVar<GatewayRef | undefined>(gateway, undefined),
  EKSPOSE_ROUTE_ANNOTATIONS: envVar<Record<string, string> | undefined>(routeAnnotations, undefined),
  EKSPOSE_WATCH_NAMESPACES: envVar(namespaceList, []),
  // Set to "" on purpose = skip nothing; so empty is not "unset" here.
  EKSPOSE_SKIP_NAMESPACES: envVar<string[] | undefined>(namespaceList, undefined, { emptyIsUnset: false }),
};

/**
 * The Deployment-side env vars, parsed field by field, plus the checks that
 * need more than one field. Keys are the env var names, so a zod issue path
 * names the var; each check runs only when the fields it reads parsed, so a
 * bad field is reported once, by itself.
 */
const exposeSchema = z.object(exposeFields).superRefine((env, ctx) => {
  const parsed = (...keys: string[]) => !ctx.issues.some((issue) => keys.includes(String(issue.path?.[0])));
  const domain = parsed('EKSPOSE_DOMAIN') ? env.EKSPOSE_DOMAIN : undefined;
  for (const reason of hostTemplateProblems(env.EKSPOSE_HOST_TEMPLATE, domain)) {
    ctx.addIssue({ code: 'custom', path: ['EKSPOSE_HOST_TEMPLATE'], message: reason });
  }
  if (parsed('EKSPOSE_WATCH_NAMESPACES', 'EKSPOSE_SKIP_NAMESPACES') && env.EKSPOSE_SKIP_NAMESPACES !== undefined) {
    const skip = env.EKSPOSE_SKIP_NAMESPACES;
    const both = env.EKSPOSE_WATCH_NAMESPACES.filter((ns) => skip.includes(ns));
    if (both.length > 0) {
      const message = `also in EKSPOSE_WATCH_NAMESPACES: ${both.join(', ')}; a namespace cannot be both watched and skipped`;
      ctx.addIssue({ code: 'custom', path: ['EKSPOSE_SKIP_NAMESPACES'], message });
    }
  }
  if (parsed('EKSPOSE_ROUTE_KIND', 'EKSPOSE_GATEWAY') && env.EKSPOSE_ROUTE_KIND === 'httproute' && env.EKSPOSE_GATEWAY === undefined) {
    const message = 'EKSPOSE_ROUTE_KIND=httproute needs EKSPOSE_GATEWAY (<namespace>/<name>[/<sectionName>]): the Gateway the routes attach to';
    ctx.addIssue({ code: 'custom', path: ['EKSPOSE_GATEWAY'], message });
  }
  // Run even when a field failed: the checks above guard what they read.
}, { when: () => true });

export const EXPOSE_SETTINGS_HELP: readonly SettingHelp[] = [
  { env: 'EKSPOSE_DOMAIN', default: DEFAULT_DOMAIN, description: 'Domain filled into {domain} of the host template; a DNS-1123 subdomain.' },
  {
    env: 'EKSPOSE_HOST_TEMPLATE',
    default: DEFAULT_HOST_TEMPLATE,
    description:
      'Ingress host for a Deployment; placeholders {name}, {namespace}, {domain}; must contain {name}. "{name}.abhilash.com" is the historic behaviour. The ekspose.io/host annotation overrides it.',
  },
  { env: 'EKSPOSE_INGRESS_CLASS', default: '(none)', description: 'Default spec.ingressClassName of Ingresses; the ekspose.io/ingress-class annotation overrides it.' },
  {
    env: 'EKSPOSE_TLS_SECRET',
    default: '(none)',
    description: 'Default TLS Secret for the Ingress host; {name} and {namespace} name the Deployment ({name}-tls: one certificate per Ingress); the ekspose.io/tls-secret annotation overrides it.',
  },
  {
    env: 'EKSPOSE_ROUTE_KIND',
    default: 'ingress',
    description: 'What makes a Deployment with ingReq: needed reachable: ingress (an Ingress) or httproute (a Gateway API HTTPRoute); the ekspose.io/route-kind annotation overrides it.',
  },
  {
    env: 'EKSPOSE_GATEWAY',
    default: '(none)',
    description: 'The Gateway HTTPRoutes attach to, <namespace>/<name>[/<sectionName>]; needed with EKSPOSE_ROUTE_KIND=httproute; the ekspose.io/gateway annotation overrides it.',
  },
  {
    env: 'EKSPOSE_ROUTE_ANNOTATIONS',
    default: '(none)',
    description:
      'Annotations for every Ingress and HTTPRoute, a JSON object of strings; the ekspose.io/route-annotations annotation adds to it (its keys win). Keys holding "snippet" are refused.',
  },
  { env: 'EKSPOSE_WATCH_NAMESPACES', default: '(all namespaces)', description: 'Comma-separated namespaces to watch, each listed and watched on its own (Roles in them are rights enough); empty = all, one cluster-wide watch.' },
  {
    env: 'EKSPOSE_SKIP_NAMESPACES',
    default: `${SYSTEM_NAMESPACES.join(',')},$POD_NAMESPACE`,
    description:
      'Comma-separated namespaces never touched. When set, used exactly as given ("" skips none). The default leaves out any namespace named in EKSPOSE_WATCH_NAMESPACES.',
    emptyIsValue: true,
  },
];

/** The Deployment-side settings as a group (see env-settings.ts). */
export const exposeSettings: SettingsGroup<ExposeSettings> = {
  help: EXPOSE_SETTINGS_HELP,
  load(env: Env) {
    const result = parseGroup(exposeSchema, env, EXPOSE_SETTINGS_HELP);
    if (!result.ok) return result;
    const e = result.settings;
    const watchNamespaces = e.EKSPOSE_WATCH_NAMESPACES;
    // POD_NAMESPACE itself is checked with the process settings; here it only joins the default skip list.
    const podNamespace = env['POD_NAMESPACE']?.trim() || DEFAULT_POD_NAMESPACE;
    const skipNamespaces =
      e.EKSPOSE_SKIP_NAMESPACES ?? [...new Set([...SYSTEM_NAMESPACES, podNamespace])].filter((ns) => !watchNamespaces.includes(ns));
    const settings: ExposeSettings = {
      domain: e.EKSPOSE_DOMAIN,
      hostTemplate: e.EKSPOSE_HOST_TEMPLATE,
      routeKind: e.EKSPOSE_ROUTE_KIND,
      watchNamespaces,
      skipNamespaces,
    };
    if (e.EKSPOSE_GATEWAY !== undefined) settings.gateway = e.EKSPOSE_GATEWAY;
    if (e.EKSPOSE_ROUTE_ANNOTATIONS !== undefined) settings.routeAnnotations = e.EKSPOSE_ROUTE_ANNOTATIONS;
    if (e.EKSPOSE_INGRESS_CLASS !== undefined) settings.ingressClass = e.EKSPOSE_INGRESS_CLASS;
    if (e.EKSPOSE_TLS_SECRET !== undefined) settings.tlsSecret = e.EKSPOSE_TLS_SECRET;
    return { ok: true, settings };
  },
};

/** Whether Deployments (and owned objects) in `namespace` are ekspose's business. */
export function shouldWatchNamespace(namespace: string, settings: Pick<ExposeSettings, 'watchNamespaces' | 'skipNamespaces'>): boolean {
  if (settings.watchNamespaces.length > 0 && !settings.watchNamespaces.includes(namespace)) return false;
  return !settings.skipNamespaces.includes(namespace);
}
