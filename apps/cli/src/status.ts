// Reads what `ekspose status` needs from the cluster, in one list per kind,
// and turns each Deployment into a row (the rules are @ekspose/expose's).
import type { CoreV1Event, V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { type ExposureStatus, type Gateway, HTTP_ROUTES, type HttpRoute, type StatusEvent, exposureStatus, gatewayReader } from '@ekspose/expose';
import { type KubeClients, statusCodeOf } from '@ekspose/k8s';

/** Namespaces the controllers skip by default; `-A` leaves them out too. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

type Named = { metadata?: { name?: string; namespace?: string } };
const keyOf = (o: Named) => `${o.metadata?.namespace}/${o.metadata?.name}`;
const byKey = <T extends Named>(items: readonly T[]) => new Map(items.map((o) => [keyOf(o), o]));

/** An ekspose Event as the status rules read it (core/v1 view of the events.k8s.io/v1 Events). */
export function statusEvent(e: CoreV1Event): StatusEvent {
  const at = e.series?.lastObservedTime ?? e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? 0;
  return { type: e.type ?? '', reason: e.reason ?? '', note: e.message ?? '', at: new Date(at as string | Date) };
}

async function httpRoutes(clients: KubeClients, namespace: string | undefined): Promise<HttpRoute[]> {
  try {
    const list = (namespace
      ? await clients.custom.listNamespacedCustomObject({ ...HTTP_ROUTES, namespace })
      : await clients.custom.listClusterCustomObject(HTTP_ROUTES)) as { items?: HttpRoute[] };
    return list.items ?? [];
  } catch (err) {
    // No Gateway API in this cluster: no HTTPRoutes.
    if (statusCodeOf(err) === 404) return [];
    throw err;
  }
}

/** The Gateways the routes attach to (one `get` each), by namespace/name; an unreadable one is left out. */
async function gatewaysOf(clients: KubeClients, routes: readonly HttpRoute[]): Promise<Map<string, Gateway>> {
  const read = gatewayReader(clients);
  const refs = new Map<string, { namespace: string; name: string }>();
  for (const route of routes) {
    const ref = route.spec?.parentRefs?.[0];
    if (!ref || (ref.kind ?? 'Gateway') !== 'Gateway') continue;
    const namespace = ref.namespace ?? route.metadata?.namespace ?? '';
    refs.set(`${namespace}/${ref.name}`, { namespace, name: ref.name });
  }
  const found = new Map<string, Gateway>();
  await Promise.all(
    [...refs].map(async ([key, ref]) => {
      const gateway = await read(ref.namespace, ref.name);
      if (gateway) found.set(key, gateway);
    }),
  );
  return found;
}

const gatewayKeyOf = (route: HttpRoute | undefined) => {
  const ref = route?.spec?.parentRefs?.[0];
  return ref ? `${ref.namespace ?? route?.metadata?.namespace}/${ref.name}` : '';
};

/** One row per Deployment in `namespace`, or in every namespace but the system ones and ekspose's own. */
export async function readStatus(clients: KubeClients, namespace: string | undefined): Promise<ExposureStatus[]> {
  const [deployments, services, ingresses, routes, events] = await Promise.all([
    namespace ? clients.apps.listNamespacedDeployment({ namespace }) : clients.apps.listDeploymentForAllNamespaces(),
    namespace ? clients.core.listNamespacedService({ namespace }) : clients.core.listServiceForAllNamespaces(),
    namespace ? clients.networking.listNamespacedIngress({ namespace }) : clients.networking.listIngressForAllNamespaces(),
    httpRoutes(clients, namespace),
    namespace ? clients.core.listNamespacedEvent({ namespace }) : clients.core.listEventForAllNamespaces(),
  ]);
  const svc = byKey<V1Service>(services.items);
  const ing = byKey<V1Ingress>(ingresses.items);
  const rt = byKey<HttpRoute>(routes);
  const gateways = await gatewaysOf(clients, routes);
  const eventsByUid = new Map<string, StatusEvent[]>();
  for (const e of events.items) {
    if (!e.reportingComponent?.startsWith('ekspose-') || e.involvedObject.kind !== 'Deployment' || !e.involvedObject.uid) continue;
    const list = eventsByUid.get(e.involvedObject.uid) ?? [];
    list.push(statusEvent(e));
    eventsByUid.set(e.involvedObject.uid, list);
  }
  // ekspose's own namespace: where its controllers run (they skip it).
  const own = new Set(
    deployments.items
      .filter((d) => d.metadata?.labels?.['app.kubernetes.io/part-of'] === 'ekspose' && d.metadata.labels['app.kubernetes.io/component'] === 'controller')
      .map((d) => d.metadata?.namespace),
  );
  const inScope = (d: V1Deployment) => namespace !== undefined || (!SYSTEM_NAMESPACES.has(d.metadata?.namespace ?? '') && !own.has(d.metadata?.namespace));
  return deployments.items
    .filter(inScope)
    .map((d) =>
      exposureStatus({
        deployment: d,
        service: svc.get(keyOf(d)),
        ingress: ing.get(keyOf(d)),
        httpRoute: rt.get(keyOf(d)),
        gateway: gateways.get(gatewayKeyOf(rt.get(keyOf(d)))),
        events: eventsByUid.get(d.metadata?.uid ?? '') ?? [],
      }),
    )
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** kubectl's table: upper-case headers, columns three spaces apart; NAMESPACE only across namespaces. */
export function formatTable(rows: readonly ExposureStatus[], withNamespace: boolean): string {
  if (rows.length === 0) return 'No Deployments found.\n';
  const header = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', 'EXPOSED AS', 'URL', 'STATE', 'REASON'];
  const cells = rows.map((r) => [...(withNamespace ? [r.namespace] : []), r.name, r.exposedAs, r.url || '-', r.state, r.reason]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('   ').trimEnd();
  return `${[line(header), ...cells.map(line)].join('\n')}\n`;
}
