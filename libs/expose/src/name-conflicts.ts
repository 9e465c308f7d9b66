// Deployments held back because an object ekspose does not own has their name
// (a Helm chart's Service of the same name, say). They are not polled: every
// name of the owned kinds is watched at metadata cost, and when the foreign
// object is deleted or changes hands, its event brings back exactly the
// Deployments noted here. Nothing else is kept: an entry goes when the name is
// taken, the Deployment no longer wants that kind, or the Deployment is gone.
export class NameConflicts {
  private readonly byKey = new Map<string, Set<string>>();

  /** A foreign object of `kind` holds the name of the Deployment `key`. */
  hold(key: string, kind: string): void {
    let kinds = this.byKey.get(key);
    if (!kinds) this.byKey.set(key, (kinds = new Set()));
    kinds.add(kind);
  }

  /** The Deployment no longer waits for that kind's name (it has it, or wants none). */
  release(key: string, kind: string): void {
    const kinds = this.byKey.get(key);
    kinds?.delete(kind);
    if (kinds?.size === 0) this.byKey.delete(key);
  }

  /** The Deployment is gone, invalid or ignored: nothing of it is kept. */
  forget(key: string): void {
    this.byKey.delete(key);
  }

  /** Whether an event about the object `kind` named like `key` concerns a waiting Deployment. */
  isHeld(key: string, kind: string): boolean {
    return this.byKey.get(key)?.has(kind) ?? false;
  }

  /** Deployments waiting for a name: bounded by the live Deployments in conflict. */
  get size(): number {
    return this.byKey.size;
  }

  /** A shard range let go: nothing of its keys is kept (their next owner starts afresh). */
  forgetWhere(gone: (key: string) => boolean): void {
    for (const key of [...this.byKey.keys()]) if (gone(key)) this.forget(key);
  }
}
