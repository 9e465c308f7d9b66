// A ValidatingAdmissionPolicy and its binding that refuse some writes in one
// namespace: how the e2e tests make the API server say no (a Service, a Lease
// renewal, a Lease delete) without a webhook. Given to `kubectl apply -f -`
// and `kubectl delete -f -` as a v1 List.

export interface Refusal {
  /** The policy's and the binding's name. */
  name: string;
  /** The API group ("" for core) and resource refused, e.g. "coordination.k8s.io" and "leases". */
  apiGroup: string;
  resource: string;
  operations: ReadonlyArray<'CREATE' | 'UPDATE' | 'DELETE'>;
  /** Where it applies. */
  namespace: string;
  /** Only objects with these labels. */
  objectLabels?: Record<string, string>;
  /** CEL that must hold for the request to pass; default "false": every matching request is refused. */
  expression?: string;
  /** The status reason of the refusal (the API server's default: Invalid). */
  reason?: 'Forbidden';
  message: string;
}

export function refusalPolicy(r: Refusal): string {
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: r.name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [r.apiGroup], apiVersions: ['v1'], operations: [...r.operations], resources: [r.resource] }] },
      validations: [{ expression: r.expression ?? 'false', ...(r.reason ? { reason: r.reason } : {}), message: r.message }],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: r.name },
    spec: {
      policyName: r.name,
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': r.namespace } },
        ...(r.objectLabels ? { objectSelector: { matchLabels: r.objectLabels } } : {}),
      },
    },
  };
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] });
}
