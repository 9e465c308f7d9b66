export { CONTROL_PLANE_BINARIES, OPS_BINARIES, TRAFFIC_BINARIES, ensureActionlint, ensureBinaries, ensureOpsBinaries, ensureTrafficBinaries, helmTemplateArgs, planeKubernetesVersion, workspaceRoot, type EnsureBinariesOptions } from './binaries';
export { generateCertificates, type Certificates } from './certificates';
export { ensureGatewayApiCrds } from './gateway-api';
export { ControlPlane, type KubectlOptions, type KubectlResult } from './control-plane';
export { DEFAULT_CONTROLLERS, startControlPlane, type ControlPlaneOptions } from './start-control-plane';
export { freePorts, httpGet, type ProbeResponse, type ProbeTls } from './http-probe';
export { renderKubeconfig, type KubeconfigInput } from './kubeconfig';
export {
  isPidAlive,
  killAllProcesses,
  ProcessHandle,
  startProcess,
  type ProcessExit,
  type StartProcessOptions,
} from './process-handle';
export { describeAppCommandLine, runAppMain, type AppRun } from './app-cli';
export { runCaptured, type CapturedRun, type RunCapturedOptions } from './run-captured';
export {
  NATS_USERS,
  NatsServer,
  natsAuthConfigPath,
  natsPassword,
  natsPasswordVariable,
  type NatsClientEnv,
  type NatsClusterNode,
  type NatsServerOptions,
  type NatsUser,
} from './nats-server';
export { waitUntilReady } from './wait-ready';
export * from './prometheus-text';
export {
  FAKE_NODE_NAME,
  TRAFFIC_CIDR,
  TRAFFIC_CONTROLLERS,
  TRAFFIC_NODE_IP,
  outageDuring,
  privateNetworkProblem,
  startBackend,
  startFakeNode,
  startIngressProxy,
  type Backend,
  type FakeNode,
  type IngressProxy,
  type Outage,
  type ProxyAnswer,
} from './traffic';
export * from './api-requests';
export { TRAEFIK_CONTROLLER_NAME, selfSignedCertificate, startGatewayProxy, type GatewayProxy, type ServingCertificate } from './gateway-proxy';
export * from './in-parallel';
