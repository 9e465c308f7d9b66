// What a Gateway says of an HTTPRoute, read as the Gateway API means it:
// status.parents holds one entry per (parent, controller), written by each
// Gateway controller for the parentRef it read, and may keep entries for
// parents the route no longer names (a controller that does not manage the new
// parent never removes its old entry) or conditions from before the route's
// last change. Only the entry for the parent ekspose wrote, and only its
// conditions about the route's current generation, speak for the route now.
import { GATEWAY_API_GROUP, type HttpRoute, type ParentRef, type RouteCondition } from './http-route';

export interface RouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions?: RouteCondition[];
}

/** A parentRef with the Gateway API's defaults filled in (group, kind, and the route's own namespace). */
function normalized(ref: ParentRef, routeNamespace: string | undefined): Required<Omit<ParentRef, 'sectionName' | 'port'>> & { sectionName: string; port: string } {
  return {
    group: ref.group ?? GATEWAY_API_GROUP,
    kind: ref.kind ?? 'Gateway',
    namespace: ref.namespace ?? routeNamespace ?? '',
    name: ref.name,
    sectionName: ref.sectionName ?? '',
    port: ref.port === undefined ? '' : String(ref.port),
  };
}

/** Whether two parentRefs of a route in `routeNamespace` name the same parent (and listener), defaults applied. */
export function sameParent(a: ParentRef, b: ParentRef, routeNamespace: string | undefined): boolean {
  const x = normalized(a, routeNamespace);
  const y = normalized(b, routeNamespace);
  return (Object.keys(x) as Array<keyof typeof x>).every((k) => x[k] === y[k]);
}

/**
 * The status.parents entries for `parentRef`, each with only the conditions
 * about the route's current generation. A condition without observedGeneration
 * (optional in metav1.Condition) is taken as current: its writer did not say
 * otherwise. Entries left with no current condition are dropped.
 */
export function currentParentStatus(route: HttpRoute, parentRef: ParentRef): RouteParentStatus[] {
  const generation = route.metadata?.generation;
  const namespace = route.metadata?.namespace;
  const current = (c: RouteCondition) => c.observedGeneration === undefined || generation === undefined || c.observedGeneration === generation;
  return (route.status?.parents ?? [])
    .filter((p) => sameParent(p.parentRef, parentRef, namespace))
    .map((p) => ({ ...p, conditions: (p.conditions ?? []).filter(current) }))
    .filter((p) => p.conditions.length > 0);
}

/**
 * What a Gateway's controller says is wrong with the route now: the first
 * Accepted or ResolvedRefs condition that is False in the current status of
 * `parentRef` (by default the route's own first parentRef, which ekspose
 * wrote). undefined when it accepts the route, or has not reported on this
 * generation yet.
 */
export function routeRefusal(route: HttpRoute, parentRef: ParentRef | undefined = route.spec?.parentRefs?.[0]): string | undefined {
  if (!parentRef) return undefined;
  for (const parent of currentParentStatus(route, parentRef)) {
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const condition = parent.conditions?.find((c) => c.type === type);
      if (condition?.status !== 'False') continue;
      const gateway = `${parent.parentRef.namespace ?? route.metadata?.namespace}/${parent.parentRef.name}`;
      return `HTTPRoute ${route.metadata?.name} is not ${type === 'Accepted' ? 'accepted' : 'resolved'} by Gateway ${gateway} (${parent.controllerName}): ${condition.reason ?? type}${condition.message ? `: ${condition.message}` : ''}`;
    }
  }
  return undefined;
}
