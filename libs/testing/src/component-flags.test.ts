import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiserverFlags, controllerManagerFlags, etcdFlags, failingChecks } from './component-flags';
import type { Certificates } from './certificates';

const certs: Certificates = {
  caCert: '/p/ca.crt',
  caKey: '/p/ca.key',
  serverCert: '/p/server.crt',
  serverKey: '/p/server.key',
  adminCert: '/p/admin.crt',
  adminKey: '/p/admin.key',
  serviceAccountKey: '/p/sa.key',
  serviceAccountPub: '/p/sa.pub',
};

describe('component flags', () => {
  it('etcd: one loopback member, its data in the plane folder, no fsync', () => {
    const flags = etcdFlags('/cp', 'http://127.0.0.1:2379', 2380);
    assert.ok(flags.includes('--data-dir=/cp/etcd'));
    assert.ok(flags.includes('--initial-cluster=default=http://127.0.0.1:2380'));
    assert.ok(flags.includes('--unsafe-no-fsync'));
  });

  it('kube-apiserver: RBAC, the certificates, and ServiceAccount admission off only without a controller manager', () => {
    const input = { dir: '/cp', port: 6443, etcdUrl: 'http://127.0.0.1:2379', certs, serviceAccountAdmission: true, extraArgs: [] };
    const withKcm = apiserverFlags(input);
    assert.ok(withKcm.includes('--authorization-mode=Node,RBAC'));
    assert.ok(withKcm.includes('--secure-port=6443'));
    assert.ok(withKcm.includes('--service-account-signing-key-file=/p/sa.key'));
    assert.ok(!withKcm.some((f) => f.startsWith('--disable-admission-plugins')));
    assert.ok(apiserverFlags({ ...input, serviceAccountAdmission: false }).includes('--disable-admission-plugins=ServiceAccount'));
  });

  it('extra flags come last, so they win over the defaults', () => {
    const flags = apiserverFlags({ dir: '/cp', port: 1, etcdUrl: 'e', certs, serviceAccountAdmission: true, extraArgs: ['--service-cluster-ip-range=10.0.0.0/16'] });
    assert.equal(flags.at(-1), '--service-cluster-ip-range=10.0.0.0/16');
    assert.ok(flags.indexOf('--service-cluster-ip-range=10.0.0.0/24') < flags.length - 1);
  });

  it('kube-controller-manager: only the named controllers, no leader election, extra flags last', () => {
    const flags = controllerManagerFlags({ dir: '/cp', port: 10257, kubeconfigPath: '/cp/kubeconfig', controllers: ['a', 'b'], certs, extraArgs: ['--x=1'] });
    assert.ok(flags.includes('--controllers=a,b'));
    assert.ok(flags.includes('--leader-elect=false'));
    assert.ok(flags.includes('--kubeconfig=/cp/kubeconfig'));
    assert.equal(flags.at(-1), '--x=1');
  });

  it('failingChecks keeps the failed /readyz lines, or the body when none failed', () => {
    assert.equal(failingChecks('[+]ping ok\n[-]etcd failed: reason withheld\n[-]poststarthook/rbac failed\nreadyz check failed'), '[-]etcd failed: reason withheld; [-]poststarthook/rbac failed');
    assert.equal(failingChecks('connection refused'), 'connection refused');
  });
});
