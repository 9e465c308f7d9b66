// The controller runtime's public face: only what the controllers and the other libs use.
// Nothing in here knows what ekspose exposes; each folder's README says what it owns.

export { type Clock, TIMED_OUT, type TimerHandle, realClock, within } from './base/clock';
export { splitKey } from './base/keys';
export { LruCache } from './base/lru-cache';
export { type ControllerMetrics, METRIC_PREFIX, counterFor, createControllerMetrics } from './metrics/metrics';
export { describeError, isConflict, isNotFound, statusCodeOf } from './api/api-errors';
export { type CustomResource, type KubeClients, type ResourceSource, type SourceView, createKubeClients, customResourceSource, deploymentSource, ingressSource, isResourceServed, loadKubeConfig, mergePatchOptions, serviceSource, boundedWatch } from './api/kube-client';
export type { KubeObjectLike, WatchEventType } from './api/list-watch';
export { identityOnly, slimDeployment, slimOwned } from './cache/cache-transforms';
export { GatedInformer } from './cache/gated-informer';
export { informerFor, readOrUndefined } from './cache/informer-factory';
export { MultiNamespaceCache } from './cache/multi-namespace-cache';
export { objectKey } from './cache/cache-diff';
export { INFORMER_ADD, INFORMER_DELETE, INFORMER_UPDATE, Informer, type ObjectCache } from './cache/informer';
export { type ReconcileResult, type Reconciler, WORK_QUEUE_DEFAULTS, WorkQueue } from './queue/work-queue';
export { WriteFence } from './lease/write-fence';
export { EventRecorder, type InvolvedObject, controllerEventRecorder } from './recorder/event-recorder';
export type { BusySignal } from './recorder/event-contract';
export { type YieldPacing, YieldPacer } from './recorder/yield-pacer';
export { MEMBER_LABEL, memberFromLease, memberLeaseName } from './shards/member-leases';
export { rangeIndexOf, shardRange, shardRanges, shardSelector } from './shards/shard-ranges';
export { type ReshardableCache, ShardedInformer } from './shards/sharded-informer';
export { ShardedWork } from './shards/sharded-work';
export { type Bootstrapped, bootstrap } from './process/app-bootstrap';
export { DEFAULT_WORKERS, type ProcessSettings, natsServers, processSettings, redactSettings } from './process/process-settings';
export { ControllerHost, type HostedBus, type HostedInformer, runController } from './host/controller-host';
