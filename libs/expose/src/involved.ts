// The Deployment an Event is recorded on.
import type { V1Deployment } from '@kubernetes/client-node';
import type { InvolvedObject } from '@ekspose/k8s';

export function involved(dep: V1Deployment): InvolvedObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    name: dep.metadata!.name!,
    namespace: dep.metadata!.namespace!,
    uid: dep.metadata!.uid!,
    resourceVersion: dep.metadata?.resourceVersion,
  };
}
