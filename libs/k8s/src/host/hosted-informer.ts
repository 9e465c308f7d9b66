import type { Informer } from '../cache/informer';

/** What the host does with an informer: start it, wait for its sync, report on it, stop it. */
export type HostedInformer = Pick<Informer<never>, 'start' | 'waitForSync' | 'status' | 'stop'>;
