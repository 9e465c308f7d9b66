// How a replica knows which work is its own. Two strategies behind one
// interface: one leader (a Lease; the others stand by) and shards (every
// replica serves the ranges of namespaces its member Lease holds). The host
// runs probes, informers, the resync and the shutdown the same way for both.
import { TIMED_OUT, within } from '../base/clock';
import type { WriteFence } from '../lease/write-fence';
import type { LeaseAccess } from './lease-access';
import { type MemberStore, kubernetesMemberStore } from '../shards/member-leases';
import type { ControllerHostOptions } from './controller-host';

export interface WorkStrategy {
  /** What can be learnt while the caches sync (run beside them, before start). */
  prepare?(): Promise<void>;
  /** Starts deciding, and working once this replica's turn comes. */
  start(): void;
  /** Stops deciding and gives back what it holds; `shutdownQueue` ends the in-flight work, in the order the strategy needs. */
  stop(shutdownQueue: () => Promise<void>): Promise<void>;
  /** Whether this replica leads (one leader) or takes part (shards): /readyz's `leader`. */
  readonly leading: boolean;
  /** Whether the key is this replica's to run now: a resync queues only those. */
  accepts(key: string): boolean;
  /** /readyz's details of the strategy (the Lease's problem, the ranges). */
  details(): Record<string, unknown>;
}

/** What a strategy takes from the host: its options, the one fence, and the resync. */
export type StrategyContext = Pick<
  ControllerHostOptions,
  'name' | 'settings' | 'log' | 'registry' | 'metrics' | 'clients' | 'informers' | 'queue' | 'reconcile' | 'onStartedLeading' | 'onStoppedLeading' | 'onRangeLetGo' | 'shutdownTimeoutMs' | 'leaseStore' | 'memberStore'
> & {
  fence: WriteFence;
  /** Tells a Lease that can never be kept (missing namespace, 403) from an outage: wrap the stores in it. */
  leaseAccess: LeaseAccess;
  /** Queues the resync keys this replica accepts every resync period from now on, and now too if `now`. */
  startResync(now: boolean): void;
  stopResync(): void;
  /** The host is stopping: start nothing more. */
  stopping(): boolean;
};

/** This controller's member Leases in POD_NAMESPACE, as this replica writes and lists them. */
export function memberLeases(ctx: Pick<StrategyContext, 'settings' | 'clients' | 'name'>): MemberStore {
  return kubernetesMemberStore(ctx.clients.coordination, ctx.settings.podNamespace, ctx.name, ctx.settings.identity);
}

/** A bounded step of the shutdown: a control plane or NATS that is already gone must not hold up the exit. */
export async function bounded(work: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  if ((await within(work, ms)) === TIMED_OUT) onTimeout();
}
