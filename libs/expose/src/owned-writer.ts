// The writes the deployment-controller makes on owned objects, each timed,
// counted and logged the same way. A delete carries the object's uid as a
// precondition, so a newer object of the same name is never hit.
import type { Logger } from 'pino';
import { type Clock, type ControllerMetrics, describeError, isConflict, isNotFound } from '@ekspose/k8s';
import type { MergePatch } from './drift';
import type { OwnedBinding, OwnedObject } from './owned-kinds';

export class OwnedWriter {
  constructor(
    private readonly opts: { metrics: Pick<ControllerMetrics, 'objectWritten'>; log: Logger; clock: Clock },
  ) {}

  async create<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, key: string, namespace: string, desired: T): Promise<void> {
    const started = this.opts.clock.now();
    await api.create(namespace, desired);
    this.written(kind.metricKind, 'create');
    this.opts.log.info({ key, kind: kind.kind, action: 'create', durationMs: this.opts.clock.now() - started }, `${kind.metricKind} created`);
  }

  async patch<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, key: string, target: { namespace: string; name: string }, patch: MergePatch, action: string): Promise<void> {
    const started = this.opts.clock.now();
    await api.patch(target.namespace, target.name, patch);
    this.written(kind.metricKind, 'patch');
    this.opts.log.info({ key, kind: kind.kind, action, durationMs: this.opts.clock.now() - started }, `${kind.metricKind} updated`);
  }

  /** Gone already (the garbage collector is often first) or replaced (uid precondition): nothing of ours to delete. */
  async delete<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, obj: T, key: string, why: string): Promise<void> {
    const uid = obj.metadata?.uid;
    if (!uid) return;
    const started = this.opts.clock.now();
    try {
      await api.delete(obj.metadata!.namespace!, obj.metadata!.name!, uid);
      this.written(kind.metricKind, 'delete');
      this.opts.log.info({ key, kind: kind.kind, action: 'delete', why, durationMs: this.opts.clock.now() - started }, `${kind.metricKind} deleted`);
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      this.opts.log.warn({ key, kind: kind.kind, err: describeError(err) }, 'delete failed');
      throw err;
    }
  }

  private written(kind: string, action: 'create' | 'patch' | 'delete'): void {
    this.opts.metrics.objectWritten(kind, action);
  }
}
