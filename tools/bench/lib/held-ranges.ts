// What the member Leases say, as every replica reads them: which replica holds
// which ranges, and a watch that notes any range two live replicas hold at once
// (the one thing sharding must never do).
import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeClients, MEMBER_LABEL, memberFromLease } from '@ekspose/k8s';
import { type AppName, CONTROLLER_NAMESPACE } from './controller-process';

/** identity -> ranges held, from the controller's member Leases (as every replica reads them). */
export async function heldRanges(clients: KubeClients, app?: AppName): Promise<Map<string, Map<string, number[]>>> {
  const list = await clients.coordination.listNamespacedLease({ namespace: CONTROLLER_NAMESPACE, labelSelector: app ? `${MEMBER_LABEL}=${app}` : MEMBER_LABEL });
  const byApp = new Map<string, Map<string, number[]>>();
  for (const lease of list.items) {
    const member = memberFromLease(lease);
    const of = lease.metadata?.labels?.[MEMBER_LABEL];
    if (!member || !of || member.released) continue;
    if (!byApp.has(of)) byApp.set(of, new Map());
    byApp.get(of)!.set(member.identity, [...member.held]);
  }
  return byApp;
}

/**
 * Lists the member Leases every 500 ms while replicas run: a range that two live
 * replicas list as held at once (one list is one snapshot) breaks the scenario.
 * A killed replica's Lease keeps its ranges until it expires: it is not live.
 */
export function watchForDoubleHolds(clients: KubeClients, live: () => Set<string>, violations: string[]): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const alive = live();
        for (const [app, members] of await heldRanges(clients)) {
          const holders = new Map<number, string[]>();
          for (const [identity, held] of members) if (alive.has(identity)) for (const r of held) holders.set(r, [...(holders.get(r) ?? []), identity]);
          for (const [r, who] of holders) if (who.length > 1 && violations.length < 20) violations.push(`${app}: range ${r} held by ${who.join(' and ')}`);
        }
      } catch {
        // a list that failed is a poll missed, not a finding
      }
      await sleep(500);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}
