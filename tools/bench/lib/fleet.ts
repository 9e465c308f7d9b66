// The shards benchmark's replicas of one configuration: each controller's
// replicas started from their bundles with its EKSPOSE_SHARDS, killed (kill -9,
// its member Lease left as a crash leaves it) or stopped as a rollout stops them,
// and told apart: live, killed, or ended by themselves (the scenario broke).
import type { ControlPlane } from '@ekspose/testing';
import { type AppName, type BenchController, startBenchController } from './controller-process';
import type { Config } from './shards-report';

export interface Replica {
  app: AppName;
  c: BenchController;
}

export const identityOf = (r: Replica) => r.c.handle.name;

/** The replicas of one configuration: started, killed, stopped; `live` excludes the killed and the ended. */
export class Fleet {
  readonly all: Replica[] = [];
  private readonly killed = new Set<string>();

  constructor(
    private readonly plane: ControlPlane,
    private readonly cfg: Config,
    /** Every replica's settings beyond the shards: the host domain, and a resync period kept out of the phases. */
    private readonly settings: { domain: string; resyncSeconds: number },
  ) {}

  async start(app: AppName, count: number): Promise<void> {
    for (let k = 0; k < count; k++) {
      const identity = `${app}-${this.cfg.id}-${this.all.filter((r) => r.app === app).length}`;
      const env = { EKSPOSE_SHARDS: String(this.cfg.shards), EKSPOSE_RESYNC_SECONDS: String(this.settings.resyncSeconds) };
      this.all.push({ app, c: await startBenchController(this.plane, { app, identity, domain: this.settings.domain, env }) });
    }
  }

  live(app?: AppName): Replica[] {
    return this.all.filter((r) => (app === undefined || r.app === app) && r.c.handle.running && !this.killed.has(identityOf(r)));
  }

  /** kill -9; its member Lease is left as a crash leaves it. */
  async kill(r: Replica): Promise<void> {
    this.killed.add(identityOf(r));
    await r.c.handle.kill();
  }

  /** Every replica that still runs, as a rollout stops it (SIGTERM: ranges handed back, member Lease removed). */
  async stop(): Promise<void> {
    await Promise.all(this.all.map((r) => r.c.handle.stop(12_000)));
  }

  /** Any replica that ended without being told to: the scenario broke. */
  crashed(): string | undefined {
    const r = this.all.find((x) => !x.c.handle.running && !this.killed.has(identityOf(x)));
    return r ? `${identityOf(r)} exited (${JSON.stringify(r.c.handle.exit)}); last lines:\n${r.c.handle.logTail(15)}` : undefined;
  }
}
