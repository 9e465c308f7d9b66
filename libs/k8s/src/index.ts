// The controller runtime: nothing in here knows what ekspose exposes.
export * from './clock';
export * from './lru-cache';
export * from './work-queue';
export * from './metrics';
export * from './observability-server';
export * from './event-loop-monitor';
export * from './leader-election';
export * from './informer';
export * from './informers';
export * from './cache-transforms';
export * from './kube-client';
export * from './api-errors';
export * from './logger';
export * from './event-recorder';
export * from './keys';
export * from './controller-host';
export * from './app-bootstrap';
