import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import pino from 'pino';
import { LeaseConflictError, type LeaseRecord, type LeaseStore } from '../lease/lease-record';
import type { MemberStore } from '../shards/member-leases';
import { LeaseAccess, leaseMisconfiguration } from './lease-access';

const log = pino({ level: 'silent' });

/** An error as the client raises it for an API server answer: the status, and the server's Status as the body. */
function apiError(code: number, message: string, kind = 'leases'): ApiException<string> {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: code === 404 ? 'NotFound' : 'Forbidden', details: { kind }, code });
  return new ApiException(code, `HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ${body}`, body, {});
}

const namespaceMissing = apiError(404, 'namespaces "no-such-ns" not found', 'namespaces');
const leaseMissing = apiError(404, 'leases.coordination.k8s.io "ekspose-x" not found');
const forbidden = apiError(403, 'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:ekspose:x" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "ekspose"');
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });

describe('leaseMisconfiguration', () => {
  it('a missing namespace and a forbidden Lease are permanent; a missing Lease, a conflict and an unreachable server are not', () => {
    assert.match(leaseMisconfiguration(namespaceMissing, 'no-such-ns') ?? '', /^POD_NAMESPACE=no-such-ns: no such namespace.*namespaces "no-such-ns" not found/);
    assert.match(leaseMisconfiguration(forbidden, 'ekspose') ?? '', /forbids this replica's Lease in namespace ekspose.*cannot create resource "leases"/);
    assert.equal(leaseMisconfiguration(leaseMissing, 'ekspose'), undefined);
    assert.equal(leaseMisconfiguration(apiError(409, 'the object has been modified'), 'ekspose'), undefined);
    assert.equal(leaseMisconfiguration(refused, 'ekspose'), undefined);
    assert.equal(leaseMisconfiguration(apiError(500, 'etcdserver: request timed out'), 'ekspose'), undefined);
  });
});

describe('LeaseAccess', () => {
  /** A leader Lease store whose calls answer what the test queues. */
  function leaderStore(answers: { get: Array<LeaseRecord | null | Error>; create: Array<LeaseRecord | Error> }): LeaseStore {
    const next = async <T>(queue: Array<T | Error>): Promise<T> => {
      const answer = queue.shift();
      if (answer instanceof Error) throw answer;
      return answer as T;
    };
    return { get: () => next(answers.get), create: () => next(answers.create), update: () => next(answers.create) };
  }

  it('the leader Lease: a create into a missing namespace is the problem until a Lease is written; an outage neither sets nor clears it', async () => {
    const access = new LeaseAccess({ namespace: 'no-such-ns', log });
    const written: LeaseRecord = { holderIdentity: 'a', resourceVersion: '1' };
    const store = access.leaseStore(leaderStore({ get: [null, refused, null], create: [namespaceMissing, written] }));
    assert.equal(await store.get(), null);
    assert.equal(access.problem, undefined, 'no Lease yet is normal');
    await assert.rejects(store.create({}), ApiException);
    assert.match(access.problem ?? '', /POD_NAMESPACE=no-such-ns/);
    await assert.rejects(store.get(), /ECONNREFUSED/);
    assert.match(access.problem ?? '', /POD_NAMESPACE=no-such-ns/, 'an outage does not clear it');
    assert.equal(await store.get(), null);
    assert.match(access.problem ?? '', /POD_NAMESPACE=no-such-ns/, 'a missing Lease does not clear it either');
    assert.deepEqual(await store.create({}), written);
    assert.equal(access.problem, undefined, 'the namespace was created: ready again');
  });

  it('a conflict (409) is an answer about the Lease: the namespace exists and the call was allowed', async () => {
    const access = new LeaseAccess({ namespace: 'ekspose', log });
    const store = access.leaseStore(leaderStore({ get: [], create: [forbidden, new LeaseConflictError('already exists', { cause: apiError(409, 'already exists') })] }));
    await assert.rejects(store.create({}));
    assert.match(access.problem ?? '', /forbids/);
    await assert.rejects(store.create({}), LeaseConflictError);
    assert.equal(access.problem, undefined);
  });

  it('the member Lease: a list of a missing namespace (an empty list) does not clear what the write found', async () => {
    const access = new LeaseAccess({ namespace: 'no-such-ns', log });
    let namespaceExists = false;
    const members: MemberStore = {
      list: async () => [],
      write: async () => {
        if (!namespaceExists) throw namespaceMissing;
      },
      remove: async () => undefined,
      removeStale: async () => undefined,
    };
    const store = access.memberStore(members);
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(await store.list(), []);
      await assert.rejects(store.write({ shards: 2, held: [], claimed: [], leaseDurationMs: 15_000 }));
      assert.match(access.problem ?? '', /POD_NAMESPACE=no-such-ns/, `round ${round}`);
    }
    namespaceExists = true;
    await store.write({ shards: 2, held: [], claimed: [], leaseDurationMs: 15_000 });
    assert.equal(access.problem, undefined);
  });
});
