// The command lines of the plane's Kubernetes components, as pure functions of
// its folder, ports and certificates: what a test or a reader needs to know of
// how etcd, kube-apiserver and kube-controller-manager are run, apart from the
// starting, waiting and stopping in control-plane.ts.
import { join } from 'node:path';
import type { Certificates } from './certificates';

/** etcd on loopback, one member, its data in `<dir>/etcd`. */
export function etcdFlags(dir: string, etcdUrl: string, peerPort: number): string[] {
  return [
    '--name=default',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    '--initial-cluster-state=new',
    // Throw-away data: durability buys nothing and fsync is the slowest thing etcd does.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

export interface ApiserverFlagsInput {
  dir: string;
  port: number;
  etcdUrl: string;
  certs: Certificates;
  /** False when no controller manager runs: nothing would make the `default` ServiceAccount pods need. */
  serviceAccountAdmission: boolean;
  extraArgs: readonly string[];
}

/** kube-apiserver on loopback with RBAC, the plane's certificates and a /24 Service range; extra flags last (they win). */
export function apiserverFlags(o: ApiserverFlagsInput): string[] {
  return [
    '--advertise-address=127.0.0.1',
    // Endpoints of the `kubernetes` Service may not name a loopback address, and nothing here runs in-cluster.
    '--endpoint-reconciler-type=none',
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--etcd-servers=${o.etcdUrl}`,
    `--tls-cert-file=${o.certs.serverCert}`,
    `--tls-private-key-file=${o.certs.serverKey}`,
    `--client-ca-file=${o.certs.caCert}`,
    '--authorization-mode=Node,RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${o.certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${o.certs.serviceAccountKey}`,
    // Pods need their namespace's `default` ServiceAccount, which only the controller manager creates.
    ...(o.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
    `--cert-dir=${join(o.dir, 'apiserver')}`,
    '--profiling=false',
    ...o.extraArgs,
  ];
}

export interface ControllerManagerFlagsInput {
  dir: string;
  port: number;
  kubeconfigPath: string;
  controllers: readonly string[];
  certs: Certificates;
  extraArgs: readonly string[];
}

/** kube-controller-manager as the plane's admin, no leader election, only the named controllers. */
export function controllerManagerFlags(o: ControllerManagerFlagsInput): string[] {
  return [
    `--kubeconfig=${o.kubeconfigPath}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--cert-dir=${join(o.dir, 'kube-controller-manager')}`,
    `--controllers=${o.controllers.join(',')}`,
    `--root-ca-file=${o.certs.caCert}`,
    `--service-account-private-key-file=${o.certs.serviceAccountKey}`,
    '--profiling=false',
    ...o.extraArgs,
  ];
}

/** The `[-]name failed` lines of a /readyz answer, which say what the API server still waits for. */
export function failingChecks(body: string): string {
  const failing = body.split('\n').filter((line) => line.startsWith('[-]'));
  return (failing.length > 0 ? failing.join('; ') : body).slice(0, 500);
}

