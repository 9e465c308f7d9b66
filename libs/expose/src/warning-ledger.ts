// Which Warnings a Deployment has already been given, so that a resync does
// not repeat them: one fingerprint per key and topic. A Warning is told again
// only when its fingerprint changes (the user changed the Deployment, or the
// conflicting object is another one), or after the topic was cleared.
import type { V1Deployment } from '@kubernetes/client-node';
import { canonical } from './drift';

type OwnedKindName = 'Service' | 'Ingress' | 'HTTPRoute';
export type WarningTopic = 'invalid' | 'host' | 'exposed' | OwnedKindName | `${OwnedKindName}-refused` | `${OwnedKindName}-unavailable` | `${OwnedKindName}-status`;

export class WarningLedger {
  private readonly byKey = new Map<string, Map<WarningTopic, string>>();

  /** True the first time this fingerprint is seen for key and topic (and remembers it). */
  firstReport(key: string, topic: WarningTopic, fingerprint: string): boolean {
    let topics = this.byKey.get(key);
    if (topics?.get(topic) === fingerprint) return false;
    if (!topics) this.byKey.set(key, (topics = new Map()));
    topics.set(topic, fingerprint);
    return true;
  }

  /** The condition is over: the next occurrence is told again. */
  clear(key: string, topic: WarningTopic): void {
    const topics = this.byKey.get(key);
    topics?.delete(topic);
    if (topics?.size === 0) this.byKey.delete(key);
  }

  /** The Deployment is gone: forget everything about it. */
  forget(key: string): void {
    this.byKey.delete(key);
  }

  /** This replica stopped leading, or let a shard range go (`gone`: its keys): their next owner tells what stands afresh. */
  reset(gone: (key: string) => boolean = () => true): void {
    for (const key of [...this.byKey.keys()]) if (gone(key)) this.byKey.delete(key);
  }

  /** Keys whose Warning on `topic` stands (not cleared): e.g. Deployments invalid right now. */
  count(topic: WarningTopic): number {
    let n = 0;
    for (const topics of this.byKey.values()) if (topics.has(topic)) n++;
    return n;
  }

  /** Keys with at least one Warning remembered (bounded by the live Deployments with a problem). */
  get size(): number {
    return this.byKey.size;
  }
}

/**
 * What a user changes about a Deployment: its spec (generation), labels and
 * annotations. Status updates, which come often while Pods roll, are not a
 * reason to repeat a Warning.
 */
export function userRevision(dep: V1Deployment): string {
  const m = dep.metadata;
  return `${m?.uid}/${m?.generation ?? ''}/${canonical(m?.labels ?? {})}/${canonical(m?.annotations ?? {})}`;
}

