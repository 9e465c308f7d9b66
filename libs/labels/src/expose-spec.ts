// The Deployment-side contract (docs/design.md §1): a Deployment's labels and
// annotations in, the desired exposure or every problem with them out.

import { renderHost, renderSecretName } from './host-template';
import {
  ANNOTATION_GATEWAY,
  ANNOTATION_HOST,
  ANNOTATION_INGRESS_CLASS,
  ANNOTATION_ROUTE_ANNOTATIONS,
  ANNOTATION_ROUTE_KIND,
  ROUTE_KINDS,
  ANNOTATION_PATH,
  ANNOTATION_TARGET_PORT,
  ANNOTATION_TLS_SECRET,
  DEFAULT_PATH,
  DEFAULT_PORT,
  INGRESS_REQUIRED_VALUE,
  LABEL_IGNORE,
  LABEL_INGRESS_REQUIRED,
  LABEL_PORT,
} from './types';
import type { DeploymentLike, ExposeSpec, GatewayRef, IngressExposure, ParseResult, Problem, ExposeSettings, RouteKind } from './types';
import {
  DNS1035_LABEL_RULE,
  DNS1123_SUBDOMAIN_RULE,
  IANA_SVC_NAME_RULE,
  ingressHostProblem,
  isDns1035Label,
  isDns1123Subdomain,
  isIanaSvcName,
  parseGatewayRef,
  parsePort,
  parseRouteAnnotations,
  urlPathProblem,
} from './validation';

/** Problem key for a host rendered from the template that is not a valid host. */
export const HOST_TEMPLATE_KEY = 'EKSPOSE_HOST_TEMPLATE';
/** Kubernetes caps an Event's message (events.k8s.io/v1 `note`) at 1 KiB. */
export const MAX_EVENT_MESSAGE_LENGTH = 1024;

const PORT_REASON = 'must be an integer from 1 to 65535, written in plain decimal (no sign, spaces or leading zeros)';

/**
 * What ekspose should do for `deployment`. A Deployment being deleted
 * (deletionTimestamp set) is not special here: callers treat it as gone.
 */
export function parseExposeSpec(deployment: DeploymentLike, settings: ExposeSettings): ParseResult {
  const metadata = deployment.metadata ?? {};
  const labels = metadata.labels ?? {};
  const annotations = metadata.annotations ?? {};
  const problems: Problem[] = [];
  const problem = (key: string, value: string, reason: string) => problems.push({ key, value, reason });

  const ignore = labels[LABEL_IGNORE];
  if (ignore === 'true') return { kind: 'ignored', reason: `label ${LABEL_IGNORE} is "true"` };
  if (ignore !== undefined && ignore !== 'false') {
    // "yes" or "True" probably meant "leave it alone": refusing to act is
    // closer to that than exposing it anyway.
    problem(LABEL_IGNORE, ignore, 'must be "true" (leave this Deployment alone) or "false"');
  }

  const name = metadata.name ?? '';
  const namespace = metadata.namespace ?? '';
  const uid = metadata.uid ?? '';
  if (name === '') problem('metadata.name', name, 'is missing');
  else if (!isDns1035Label(name)) problem('metadata.name', name, `cannot be a Service name: it must be ${DNS1035_LABEL_RULE}`);
  if (namespace === '') problem('metadata.namespace', namespace, 'is missing');
  if (uid === '') problem('metadata.uid', uid, 'is missing');

  const selector = serviceSelector(deployment.spec?.selector);
  if ('reason' in selector) problem('spec.selector', selector.value, selector.reason);

  let port = DEFAULT_PORT;
  const portLabel = labels[LABEL_PORT];
  if (portLabel !== undefined) {
    const parsed = parsePort(portLabel);
    if (parsed === undefined) problem(LABEL_PORT, portLabel, PORT_REASON);
    else port = parsed;
  }

  const ingressWanted = labels[LABEL_INGRESS_REQUIRED] === INGRESS_REQUIRED_VALUE;

  let targetPort: number | string = port;
  const targetPortValue = annotations[ANNOTATION_TARGET_PORT];
  if (targetPortValue !== undefined) {
    const parsed = parsePort(targetPortValue) ?? (isIanaSvcName(targetPortValue) ? targetPortValue : undefined);
    if (parsed === undefined) {
      problem(ANNOTATION_TARGET_PORT, targetPortValue, `must be a port number from 1 to 65535 in plain decimal, or ${IANA_SVC_NAME_RULE}`);
    } else {
      targetPort = parsed;
    }
  }

  // Ingress annotations are checked even when no Ingress is wanted: a typo is
  // better found before someone adds ingReq and wonders why nothing happens.
  const path = annotations[ANNOTATION_PATH] ?? DEFAULT_PATH;
  const pathReason = urlPathProblem(path);
  if (pathReason !== undefined) problem(ANNOTATION_PATH, path, pathReason);

  const hostOverride = annotations[ANNOTATION_HOST];
  if (hostOverride !== undefined) {
    const reason = ingressHostProblem(hostOverride);
    if (reason !== undefined) problem(ANNOTATION_HOST, hostOverride, reason);
  }

  const route = routeOf(annotations, settings, problem);
  const ingressClassName = objectName(ANNOTATION_INGRESS_CLASS, annotations, settings.ingressClass, problem);
  const tlsSecret = secretName(annotations, settings.tlsSecret, { name, namespace }, problem);

  const ingress = ingressWanted
    ? externalRoute({ name, namespace, hostOverride, path, ingressClassName, tlsSecret, route, annotations, settings, problems, problem })
    : null;

  if (problems.length > 0 || 'reason' in selector) return { kind: 'invalid', problems };
  const spec: ExposeSpec = { namespace, name, uid, port, targetPort, selector: selector.labels, ingress };
  return { kind: 'expose', spec };
}

interface ExternalRouteInput {
  name: string;
  namespace: string;
  hostOverride: string | undefined;
  path: string;
  ingressClassName: string | undefined;
  tlsSecret: string | undefined;
  route: { kind: RouteKind; gateway?: GatewayRef };
  annotations: Record<string, string>;
  settings: ExposeSettings;
  problems: Problem[];
  problem: (key: string, value: string, reason: string) => void;
}

/** The Ingress or HTTPRoute a Deployment with ingReq: needed asks for: host (template or annotation), path, class, TLS, Gateway. */
function externalRoute(input: ExternalRouteInput): IngressExposure {
  const { name, namespace, hostOverride, path, ingressClassName, tlsSecret, route, annotations, settings, problems, problem } = input;
  let host = hostOverride;
  if (host === undefined) {
    host = renderHost(settings.hostTemplate, { name, namespace, domain: settings.domain });
    const reason = ingressHostProblem(host);
    // Only worth saying when name and namespace are fine: otherwise the
    // host is bad for a reason already reported.
    if (reason !== undefined && problems.every((p) => !p.key.startsWith('metadata.'))) {
      problem(
        HOST_TEMPLATE_KEY,
        host,
        `the host rendered from the template "${settings.hostTemplate}" is not valid (${reason}); set the ${ANNOTATION_HOST} annotation to choose a host`,
      );
    }
  }
  const ingress: IngressExposure = { routeKind: route.kind, host, path };
  if (route.kind === 'httproute' && route.gateway === undefined) {
    problem(ANNOTATION_GATEWAY, annotations[ANNOTATION_GATEWAY] ?? '', `an HTTPRoute needs a Gateway: set this annotation or EKSPOSE_GATEWAY to <namespace>/<name>[/<sectionName>]`);
  }
  if (route.kind === 'httproute' && route.gateway) ingress.gateway = route.gateway;
  if (ingressClassName !== undefined) ingress.ingressClassName = ingressClassName;
  if (tlsSecret !== undefined) ingress.tlsSecret = tlsSecret;
  const own = annotations[ANNOTATION_ROUTE_ANNOTATIONS];
  const parsed = own === undefined ? { annotations: {} } : parseRouteAnnotations(own);
  if ('reason' in parsed) problem(ANNOTATION_ROUTE_ANNOTATIONS, own ?? '', parsed.reason);
  const passed = { ...settings.routeAnnotations, ...('annotations' in parsed ? parsed.annotations : {}) };
  if (Object.keys(passed).length > 0) ingress.annotations = passed;
  return ingress;
}

/** The route kind and Gateway: the annotations, else the settings. A bad annotation is a problem, not a fallback. */
function routeOf(
  annotations: Record<string, string>,
  settings: ExposeSettings,
  problem: (key: string, value: string, reason: string) => void,
): { kind: RouteKind; gateway?: GatewayRef } {
  let kind = settings.routeKind ?? 'ingress';
  const kindValue = annotations[ANNOTATION_ROUTE_KIND];
  if (kindValue !== undefined) {
    const found = ROUTE_KINDS.find((k) => k === kindValue);
    if (found) kind = found;
    else problem(ANNOTATION_ROUTE_KIND, kindValue, `must be one of ${ROUTE_KINDS.join(', ')}`);
  }
  let gateway = settings.gateway;
  const gatewayValue = annotations[ANNOTATION_GATEWAY];
  if (gatewayValue !== undefined) {
    const parsed = parseGatewayRef(gatewayValue);
    if ('ref' in parsed) gateway = parsed.ref;
    else {
      problem(ANNOTATION_GATEWAY, gatewayValue, parsed.reason);
      // Reported once: not also as "needs a Gateway".
      return { kind: 'ingress' };
    }
  }
  return gateway ? { kind, gateway } : { kind };
}

/** The TLS Secret: the annotation, else the setting, with {name} and {namespace} filled in. */
function secretName(
  annotations: Record<string, string>,
  fallback: string | undefined,
  values: { name: string; namespace: string },
  problem: (key: string, value: string, reason: string) => void,
): string | undefined {
  const value = annotations[ANNOTATION_TLS_SECRET];
  const template = value ?? fallback;
  if (template === undefined) return undefined;
  const rendered = renderSecretName(template, values);
  if (isDns1123Subdomain(rendered)) return rendered;
  problem(value !== undefined ? ANNOTATION_TLS_SECRET : 'EKSPOSE_TLS_SECRET', template, `must be ${DNS1123_SUBDOMAIN_RULE} ({name} and {namespace} allowed)`);
  return undefined;
}

function objectName(
  key: string,
  annotations: Record<string, string>,
  fallback: string | undefined,
  problem: (key: string, value: string, reason: string) => void,
): string | undefined {
  const value = annotations[key];
  if (value === undefined) return fallback;
  if (isDns1123Subdomain(value)) return value;
  problem(key, value, `must be ${DNS1123_SUBDOMAIN_RULE}`);
  return undefined;
}

type SelectorResult = { labels: Record<string, string> } | { value: string; reason: string };

/**
 * The Service selector for a Deployment selector, as `kubectl expose` builds
 * it: key=value pairs only. An expression is accepted only when it means
 * exactly one key=value (`In` with one value); anything else would make the
 * Service select other pods than the Deployment, so it is reported instead.
 */
function serviceSelector(selector: NonNullable<DeploymentLike['spec']>['selector']): SelectorResult {
  const shown = JSON.stringify(selector ?? {});
  const labels: Record<string, string> = { ...(selector?.matchLabels ?? {}) };
  const expressions = selector?.matchExpressions ?? [];
  const unconvertible: unknown[] = [];
  for (const expression of expressions) {
    const single = singleValueIn(expression);
    if (single === undefined) unconvertible.push(expression);
    else if (labels[single.key] !== undefined && labels[single.key] !== single.value) {
      return { value: shown, reason: `requires two values for label "${single.key}", so it selects no pods` };
    } else labels[single.key] = single.value;
  }
  if (unconvertible.length > 0) {
    return {
      value: shown,
      reason:
        'has matchExpressions a Service selector cannot express (a Service selects by key=value only; an expression is usable only as "In" with one value); use spec.selector.matchLabels',
    };
  }
  if (Object.keys(labels).length === 0) {
    return { value: shown, reason: 'is empty; a Service needs at least one key=value label to select the pods' };
  }
  return { labels };
}

function singleValueIn(expression: unknown): { key: string; value: string } | undefined {
  if (typeof expression !== 'object' || expression === null) return undefined;
  const { key, operator, values } = expression as { key?: unknown; operator?: unknown; values?: unknown };
  if (typeof key !== 'string' || operator !== 'In' || !Array.isArray(values) || values.length !== 1) return undefined;
  const [value] = values as unknown[];
  return typeof value === 'string' ? { key, value } : undefined;
}

const MAX_VALUE_SHOWN = 80;

/** `port "70000": must be an integer from 1 to 65535, …` */
export function formatProblem(problem: Problem): string {
  const value =
    problem.value.length > MAX_VALUE_SHOWN ? `${problem.value.slice(0, MAX_VALUE_SHOWN)}...` : problem.value;
  return `${problem.key} ${JSON.stringify(value)}: ${problem.reason}`;
}

/**
 * All problems on one line, for a Kubernetes Event message: ASCII only (so
 * characters count as bytes) and at most MAX_EVENT_MESSAGE_LENGTH long; what
 * does not fit is counted at the end.
 */
export function describeProblems(problems: Problem[]): string {
  const items = problems.map((p) => asciiOneLine(formatProblem(p)));
  const more = (n: number) => (n > 0 ? ` (and ${n} more)` : '');
  let line = '';
  for (const [i, item] of items.entries()) {
    const rest = items.length - i - 1;
    const next = line === '' ? item : `${line}; ${item}`;
    if (next.length + more(rest).length <= MAX_EVENT_MESSAGE_LENGTH) {
      line = next;
      continue;
    }
    // The line so far was accepted with room left for this very suffix.
    if (line !== '') return `${line}${more(rest + 1)}`;
    return `${item.slice(0, MAX_EVENT_MESSAGE_LENGTH - more(rest).length - 3)}...${more(rest)}`;
  }
  return line;
}

function asciiOneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
