{{/* Each controller's rules, docs/design.md §6 (the same as manifests/<controller>/rbac.yaml). */}}
{{- define "ekspose.rules.deployment-controller" -}}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways"]
  verbs: ["get"]
{{- end }}

{{- define "ekspose.rules.service-controller" -}}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{- define "ekspose.rules.ingress-controller" -}}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways"]
  verbs: ["get"]
{{- end }}

{{/*
A controller's Lease rules ($ctx: { name, shards }), the same as manifests/<controller>/rbac.yaml
(shards 1) and manifests/member-leases (shards > 1).
*/}}
{{- define "ekspose.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: ["ekspose-{{ .name }}"]
  verbs: ["get", "update"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
{{- if gt (int .shards) 1 }}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "update", "delete"]
{{- end }}
{{- end }}

{{/*
settings.EKSPOSE_WATCH_NAMESPACES as a JSON list (trimmed, no empties, each once). namespaceScoped
needs at least one: the controllers may then read nothing outside them.
*/}}
{{- define "ekspose.watchNamespaces" -}}
{{- $list := list -}}
{{- range $ns := splitList "," (toString (default "" .Values.settings.EKSPOSE_WATCH_NAMESPACES)) -}}
{{- $ns = trim $ns -}}
{{- if and $ns (not (has $ns $list)) }}{{ $list = append $list $ns }}{{ end -}}
{{- end -}}
{{- if and .Values.namespaceScoped (eq (len $list) 0) -}}
{{- fail "namespaceScoped needs settings.EKSPOSE_WATCH_NAMESPACES: the namespaces the controllers get Roles in, and the only ones they watch" -}}
{{- end -}}
{{- toJson $list -}}
{{- end }}

{{/* The namespace of settings.EKSPOSE_GATEWAY (<namespace>/<name>[/<sectionName>]), or "". */}}
{{- define "ekspose.gatewayNamespace" -}}
{{- $g := toString (default "" (get .Values.settings "EKSPOSE_GATEWAY")) -}}
{{- if contains "/" $g }}{{ first (splitList "/" $g) | trim }}{{ end -}}
{{- end }}
