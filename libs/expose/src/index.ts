// ekspose's own rules, on top of the controller runtime (@ekspose/k8s), the
// event bus (@ekspose/events) and the label contract (@ekspose/labels).
export * from './event-reasons';
export * from './expose-metrics';
export * from './event-port';
export * from './owner-keys';
export * from './desired-objects';
export * from './ownership';
export * from './drift';
export * from './host-conflict';
export * from './host-wait-list';
export * from './kind-descriptors';
export * from './http-route';
export * from './route-parents';
export * from './gateway-listeners';
export * from './gateway-reader';
export * from './status-grace';
export * from './deployments';
export * from './warning-ledger';
export * from './deletion-outbox';
export * from './name-conflicts';
export * from './recreation';
export * from './deployment-reconciler';
export * from './recreation-reconciler';
export * from './event-routing';
export * from './settings';
export * from './run-controllers';
export * from './exposure-status';
