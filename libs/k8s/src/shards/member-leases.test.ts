import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { MEMBER_LABEL, kubernetesMemberStore } from './member-leases';

const NS = 'ekspose';

/**
 * The Leases of one namespace as the API server serves them: a list applies an
 * equality label selector, a read or delete of a missing Lease is a 404, a
 * delete whose resourceVersion precondition is stale a 409. Counts the Leases
 * it sends, to see what a replica reads every retry period.
 */
class LeaseApi {
  readonly leases = new Map<string, V1Lease>();
  sent = 0;

  add(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}, holder = name): void {
    this.leases.set(name, { metadata: { name, namespace: NS, resourceVersion: String(this.leases.size + 1), labels, annotations }, spec: { holderIdentity: holder, leaseDurationSeconds: 15 } });
  }

  api(): CoordinationV1Api {
    const notFound = (name: string) => Object.assign(new Error(`leases "${name}" not found`), { code: 404 });
    return {
      listNamespacedLease: async ({ labelSelector }: { namespace: string; labelSelector?: string }) => {
        const [key, value] = labelSelector?.split('=') ?? [];
        if (labelSelector && (!key || value === undefined || /[,!]/.test(labelSelector))) throw Object.assign(new Error('selector not understood here'), { code: 400 });
        const items = [...this.leases.values()].filter((l) => !key || l.metadata?.labels?.[key] === value);
        this.sent += items.length;
        return { items };
      },
      readNamespacedLease: async ({ name }: { name: string }) => {
        const lease = this.leases.get(name);
        if (!lease) throw notFound(name);
        this.sent += 1;
        return lease;
      },
    } as unknown as CoordinationV1Api;
  }
}

describe('kubernetesMemberStore', () => {
  it('lists its members by a label selector the server applies, and the leader Lease by name: not every Lease of the namespace', async () => {
    const server = new LeaseApi();
    // A namespace shared with other workloads' Leases, and another controller's members.
    for (let i = 0; i < 200; i++) server.add(`other-${i}`);
    const shards = { 'ekspose.io/shards': '4', 'ekspose.io/held': '0,1' };
    server.add('ekspose-deployment-controller-member-a', { [MEMBER_LABEL]: 'deployment-controller' }, shards, 'a');
    server.add('ekspose-deployment-controller-member-b', { [MEMBER_LABEL]: 'deployment-controller' }, { ...shards, 'ekspose.io/held': '2,3' }, 'b');
    server.add('ekspose-service-controller-member-c', { [MEMBER_LABEL]: 'service-controller' }, shards, 'c');
    const store = kubernetesMemberStore(server.api(), NS, 'deployment-controller', 'a');

    const members = await store.list();
    assert.deepEqual(members.map((m) => [m.identity, m.held]), [['a', [0, 1]], ['b', [2, 3]]]);
    assert.equal(server.sent, 2, 'the two members only, filtered by the server');

    server.add('ekspose-deployment-controller', {}, {}, 'leader-pod');
    server.sent = 0;
    const withLeader = await store.list();
    assert.deepEqual(withLeader.map((m) => [m.identity, Boolean(m.leader)]), [['a', false], ['b', false], ['leader-pod', true]]);
    assert.equal(server.sent, 3);
  });
});
