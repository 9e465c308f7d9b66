// What the deployment-controller still owes NATS about deleted Deployments:
// tombstones (the uid a Deployment had when the watch saw it deleted, until its
// cleanup ran) and deployment.deleted records NATS could not take yet, to be
// published again (message id = uid, so a repeat is de-duplicated by the stream).
import type { Logger } from 'pino';
import type { Clock } from '@ekspose/k8s';
import type { ExposeEvents } from './event-port';

export interface DeletionOutboxOptions {
  events: Pick<ExposeEvents, 'publish'>;
  log: Logger;
  clock: Clock;
}

export class DeletionOutbox {
  private readonly tombstones = new Map<string, string>();
  private readonly unpublished = new Map<string, Set<string>>();

  constructor(private readonly opts: DeletionOutboxOptions) {}

  /**
   * Publishes deployment.deleted and waits for the ack. When NATS cannot take
   * it, the record is owed (and the caller goes on: cleanup never waits for
   * NATS, the other controllers then decide from the live API alone).
   */
  async send(namespace: string, name: string, uid: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const deletedAt = new Date(this.opts.clock.now()).toISOString();
    const result = await this.opts.events.publish('deployment.deleted', { uid, namespace, name, deletedAt }, { msgId: uid });
    if (result.ok) {
      this.published(key, uid);
      return;
    }
    this.opts.log.warn({ key, uid }, 'deployment.deleted not published (NATS unavailable); continuing, will publish it later');
    this.owe(key, uid);
  }

  /** The watch saw the Deployment deleted: remember its uid for the record. */
  noteDeleted(key: string, uid: string): void {
    this.tombstones.set(key, uid);
  }

  /** Every uid a record is owed for under this key: the tombstone and the unpublished ones. */
  uidsFor(key: string): string[] {
    const uids = new Set(this.unpublished.get(key));
    const tombstone = this.tombstones.get(key);
    if (tombstone) uids.add(tombstone);
    return [...uids];
  }

  /** Records NATS has not taken yet for this key. */
  owed(key: string): string[] {
    return [...(this.unpublished.get(key) ?? [])];
  }

  hasOwed(key: string): boolean {
    return this.unpublished.has(key);
  }

  /** NATS could not take the record: keep it for a later try. */
  private owe(key: string, uid: string): void {
    let uids = this.unpublished.get(key);
    if (!uids) this.unpublished.set(key, (uids = new Set()));
    uids.add(uid);
  }

  /** NATS acked the record. */
  private published(key: string, uid: string): void {
    const uids = this.unpublished.get(key);
    uids?.delete(uid);
    if (uids?.size === 0) this.unpublished.delete(key);
  }

  /** The cleanup ran, or the key is alive again: the tombstone has served. */
  clearTombstone(key: string): void {
    this.tombstones.delete(key);
  }

  /** Records still owed across every key, for metrics and readiness details. */
  get owedCount(): number {
    let n = 0;
    for (const uids of this.unpublished.values()) n += uids.size;
    return n;
  }

  /** Tombstones waiting for their cleanup: zero on a replica that does not lead. */
  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /**
   * This replica stopped leading: the next leader starts from its informers,
   * and its sweep of orphaned objects publishes what a Deployment deleted
   * meanwhile is owed. A record still unpublished here is dropped with the rest:
   * it served while its objects could be recreated, and those are gone.
   */
  reset(gone: (key: string) => boolean = () => true): void {
    for (const key of [...this.tombstones.keys()]) if (gone(key)) this.tombstones.delete(key);
    for (const key of [...this.unpublished.keys()]) if (gone(key)) this.unpublished.delete(key);
  }
}
