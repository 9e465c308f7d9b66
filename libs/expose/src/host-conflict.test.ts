import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Ingress } from '@kubernetes/client-node';
import { HostIndex, claimsOf, hostHeldBy, type HostClaim } from './host-conflict';

const MANAGED = { 'app.kubernetes.io/managed-by': 'ekspose' };

function ingress(
  namespace: string,
  name: string,
  created: string | undefined,
  rules: Array<{ host?: string; paths: string[] }>,
  labels: Record<string, string> = MANAGED,
): V1Ingress {
  return {
    metadata: { namespace, name, labels, creationTimestamp: created ? new Date(created) : undefined },
    spec: {
      rules: rules.map((r) => ({
        host: r.host,
        http: {
          paths: r.paths.map((path) => ({ path, pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } })),
        },
      })),
    },
  };
}

const T1 = '2025-01-01T00:00:00Z';
const T2 = '2025-01-02T00:00:00Z';
const claim = (namespace: string, name: string, createdAt: string, path = '/', host = 'shop.example.com'): HostClaim => ({
  kind: 'Ingress',
  namespace,
  name,
  host,
  path,
  createdAt: Date.parse(createdAt),
});

describe('claimsOf', () => {
  it('one claim per host and path, with the creation time', () => {
    const ing = ingress('a', 'web', T1, [
      { host: 'one.example.com', paths: ['/', '/api'] },
      { host: 'two.example.com', paths: ['/'] },
    ]);
    assert.deepEqual(claimsOf(ing), [
      claim('a', 'web', T1, '/', 'one.example.com'),
      claim('a', 'web', T1, '/api', 'one.example.com'),
      claim('a', 'web', T1, '/', 'two.example.com'),
    ]);
  });

  it('ignores rules without a host; an Ingress not created yet counts as youngest', () => {
    const claims = claimsOf(ingress('a', 'web', undefined, [{ paths: ['/'] }, { host: 'h.example.com', paths: ['/'] }]));
    assert.equal(claims.length, 1);
    assert.equal(claims[0]?.createdAt, Number.POSITIVE_INFINITY);
  });
});

describe('hostHeldBy', () => {
  const wanted = { host: 'shop.example.com', path: '/' };
  const self = { namespace: 'b', name: 'web' };

  it('an older claim of another Ingress holds the host against our existing younger Ingress', () => {
    const own = ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]);
    const older = claim('a', 'api', T1);
    assert.deepEqual(hostHeldBy(wanted, self, own, [older, ...claimsOf(own)]), older);
  });

  it('a younger claim does not hold it against our older Ingress', () => {
    const own = ingress('b', 'web', T1, [{ host: 'shop.example.com', paths: ['/'] }]);
    assert.equal(hostHeldBy(wanted, self, own, [claim('a', 'api', T2)]), undefined);
  });

  it('any existing claim holds it when our Ingress does not exist yet', () => {
    const other = claim('z', 'zeta', T2);
    assert.deepEqual(hostHeldBy(wanted, self, undefined, [other]), other);
  });

  it('our route in the index but not yet in our cache (two replicas wrote one host at once) keeps its age: ties go by namespace/name, the same on both sides', () => {
    const ours = claim('b', 'web', T1);
    const theirs = claim('a', 'web', T1);
    // We are b/web: a/web is as old and sorts first, so it holds the host, whichever replica asks.
    assert.deepEqual(hostHeldBy(wanted, self, undefined, [ours, theirs], 'Ingress'), theirs);
    assert.equal(hostHeldBy(wanted, { namespace: 'a', name: 'web' }, undefined, [ours, theirs], 'Ingress'), undefined);
    // And an index without our route: any claim holds it, as before.
    assert.deepEqual(hostHeldBy(wanted, { namespace: 'a', name: 'web' }, undefined, [ours], 'Ingress'), ours);
    // Only a route of the kind being decided counts as ours: an HTTPRoute replacing our Ingress does not inherit its age.
    assert.deepEqual(hostHeldBy(wanted, { namespace: 'a', name: 'web' }, undefined, [ours, theirs], 'HTTPRoute'), ours);
  });

  it('our Ingress serving another host counts as not claiming the wanted one yet', () => {
    const own = ingress('b', 'web', T1, [{ host: 'old.example.com', paths: ['/'] }]);
    const other = claim('a', 'api', T2);
    assert.deepEqual(hostHeldBy(wanted, self, own, [other]), other);
  });

  it('same creation time: namespace/name decides, the same way for both sides', () => {
    const mine = ingress('b', 'web', T1, [{ host: 'shop.example.com', paths: ['/'] }]);
    const theirsBefore = claim('a', 'web', T1);
    const theirsAfter = claim('c', 'web', T1);
    assert.deepEqual(hostHeldBy(wanted, self, mine, [theirsBefore]), theirsBefore);
    assert.equal(hostHeldBy(wanted, self, mine, [theirsAfter]), undefined);
    // And seen from the other side the verdict is the mirror image.
    const theirs = ingress('a', 'web', T1, [{ host: 'shop.example.com', paths: ['/'] }]);
    assert.equal(hostHeldBy(wanted, { namespace: 'a', name: 'web' }, theirs, claimsOf(mine)), undefined);
  });

  it('the same host with a different path is no conflict', () => {
    assert.equal(hostHeldBy(wanted, self, undefined, [claim('a', 'api', T1, '/api')]), undefined);
  });

  it('a different host is no conflict', () => {
    assert.equal(hostHeldBy(wanted, self, undefined, [claim('a', 'api', T1, '/', 'other.example.com')]), undefined);
  });

  it('our own claim is never a conflict', () => {
    const own = ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]);
    assert.equal(hostHeldBy(wanted, self, own, [claim('b', 'web', T1)]), undefined);
    assert.equal(hostHeldBy(wanted, self, undefined, claimsOf(own)), undefined);
  });

  it('the oldest of several holders is named', () => {
    const oldest = claim('m', 'first', '2024-06-01T00:00:00Z');
    const got = hostHeldBy(wanted, self, undefined, [claim('a', 'second', T1), oldest, claim('c', 'third', T2)]);
    assert.deepEqual(got, oldest);
  });
});

describe('HostIndex', () => {
  it('returns the managed claims on a host and path', () => {
    const index = new HostIndex();
    index.upsert(ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/', '/api'] }]));
    index.upsert(ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]));
    assert.deepEqual(
      index.claims('shop.example.com', '/').map((c) => `${c.namespace}/${c.name}`).sort(),
      ['a/api', 'b/web'],
    );
    assert.deepEqual(index.claims('shop.example.com', '/api'), [claim('a', 'api', T1, '/api')]);
    assert.deepEqual(index.claims('shop.example.com', '/other'), []);
    assert.deepEqual(index.claims('nope.example.com', '/'), []);
  });

  it('ignores Ingresses ekspose does not manage', () => {
    const index = new HostIndex();
    index.upsert(ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/'] }], { app: 'api' }));
    assert.deepEqual(index.claims('shop.example.com', '/'), []);
  });

  it('an update replaces the old claims of that Ingress', () => {
    const index = new HostIndex();
    index.upsert(ingress('a', 'api', T1, [{ host: 'old.example.com', paths: ['/'] }]));
    index.upsert(ingress('a', 'api', T1, [{ host: 'new.example.com', paths: ['/'] }]));
    assert.deepEqual(index.claims('old.example.com', '/'), []);
    assert.deepEqual(index.claims('new.example.com', '/'), [claim('a', 'api', T1, '/', 'new.example.com')]);
  });

  it('an update that drops the managed-by label drops its claims', () => {
    const index = new HostIndex();
    index.upsert(ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/'] }]));
    index.upsert(ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/'] }], {}));
    assert.deepEqual(index.claims('shop.example.com', '/'), []);
  });

  it('remove drops only that Ingress', () => {
    const index = new HostIndex();
    const api = ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/'] }]);
    index.upsert(api);
    index.upsert(ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]));
    index.remove(api);
    assert.deepEqual(index.claims('shop.example.com', '/'), [claim('b', 'web', T2)]);
    index.remove(api);
    assert.equal(index.claims('shop.example.com', '/').length, 1);
  });

  it('tells which host/paths lost their last claim: a holder moved to another host or path, or deleted', () => {
    const freed: string[] = [];
    const index = new HostIndex((f) => freed.push(...f.map((c) => `${c.host}${c.path}`)));
    const api = ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/', '/api'] }]);
    index.upsert(api);
    index.upsert(ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]));
    assert.deepEqual(freed, [], 'new claims free nothing');
    index.upsert(ingress('a', 'api', T1, [{ host: 'shop.example.com', paths: ['/api'] }]));
    assert.deepEqual(freed, [], "'/' is still claimed by b/web");
    index.upsert(ingress('a', 'api', T1, [{ host: 'moved.example.com', paths: ['/api'] }]));
    assert.deepEqual(freed, ['shop.example.com/api'], 'moving to another host frees the old one');
    index.remove(ingress('b', 'web', T2, [{ host: 'shop.example.com', paths: ['/'] }]));
    assert.deepEqual(freed, ['shop.example.com/api', 'shop.example.com/'], 'deleting the last holder frees it');
    index.upsert(ingress('a', 'api', T1, [{ host: 'moved.example.com', paths: ['/api'] }], {}));
    assert.deepEqual(freed.at(-1), 'moved.example.com/api', 'a route that is no longer managed frees its claims');
    assert.deepEqual(index.size, { routes: 0, reserved: 0 }, 'nothing kept for routes that are gone');
  });

  it('a reservation counts at once, before its write, and frees the host when dropped without a route', () => {
    const freed: string[] = [];
    const index = new HostIndex((f) => freed.push(...f.map((c) => `${c.host}${c.path}`)));
    const pending: HostClaim = { kind: 'Ingress', namespace: 'a', name: 'first', host: 'shop.example.com', path: '/', createdAt: 1000 };
    const release = index.reserve(pending);
    // The second Deployment of the same apply, checked before the first one's create has answered.
    assert.deepEqual(hostHeldBy({ host: 'shop.example.com', path: '/' }, { namespace: 'b', name: 'second' }, undefined, index.claims('shop.example.com', '/')), pending);
    release();
    release();
    assert.deepEqual(freed, ['shop.example.com/'], 'a failed write frees the host (once)');
    assert.deepEqual(index.claims('shop.example.com', '/'), []);

    const again = index.reserve({ ...pending, createdAt: 2000 });
    // The write succeeded: its answer is recorded, then the reservation is dropped; the host stays held.
    index.upsert(ingress('a', 'first', T1, [{ host: 'shop.example.com', paths: ['/'] }]));
    again();
    assert.deepEqual(freed, ['shop.example.com/'], 'not freed: the route holds it now');
    assert.deepEqual(index.claims('shop.example.com', '/'), [claim('a', 'first', T1)]);
    assert.deepEqual(index.size, { routes: 1, reserved: 0 });
  });
});
