// The writes the deployment-controller makes on owned objects, each timed,
// counted and logged the same way. A delete carries the object's uid as a
// precondition, so a newer object of the same name is never hit.
import type { Logger } from 'pino';
import { type Clock, type ControllerMetrics, describeError, isConflict, isNotFound } from '@ekspose/k8s';
import type { MergePatch } from './drift';
import type { OwnedBinding, OwnedObject } from './kind-descriptors';

export class ObjectWriter {
  constructor(
    private readonly opts: { metrics: Pick<ControllerMetrics, 'objectWritten'>; log: Logger; clock: Clock },
  ) {}

  /** The object as the API server made it. */
  async create<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, key: string, namespace: string, desired: T): Promise<T> {
    const started = this.opts.clock.now();
    const created = await api.create(namespace, desired);
    this.written(kind.metricKind, 'create');
    this.opts.log.info({ key, kind: kind.kind, action: 'create', durationMs: this.opts.clock.now() - started }, `${kind.metricKind} created`);
    return created;
  }

  /** The object as the API server has it after the patch. */
  async patch<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, key: string, target: { namespace: string; name: string }, patch: MergePatch, action: string): Promise<T> {
    const started = this.opts.clock.now();
    const patched = await api.patch(target.namespace, target.name, patch);
    this.written(kind.metricKind, 'patch');
    this.opts.log.info({ key, kind: kind.kind, action, durationMs: this.opts.clock.now() - started }, `${kind.metricKind} updated`);
    return patched;
  }

  /**
   * Gone already (the garbage collector is often first) or replaced (uid
   * precondition): nothing of ours to delete. True when this object is gone.
   */
  async delete<T extends OwnedObject>({ kind, api }: OwnedBinding<T>, obj: T, key: string, why: string): Promise<boolean> {
    const uid = obj.metadata?.uid;
    if (!uid) return false;
    const started = this.opts.clock.now();
    try {
      await api.delete(obj.metadata!.namespace!, obj.metadata!.name!, uid);
      this.written(kind.metricKind, 'delete');
      this.opts.log.info({ key, kind: kind.kind, action: 'delete', why, durationMs: this.opts.clock.now() - started }, `${kind.metricKind} deleted`);
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return true;
      this.opts.log.warn({ key, kind: kind.kind, err: describeError(err) }, 'delete failed');
      throw err;
    }
  }

  private written(kind: string, action: 'create' | 'patch' | 'delete'): void {
    this.opts.metrics.objectWritten(kind, action);
  }
}
