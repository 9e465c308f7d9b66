{{/* The three controllers: name -> their key in values. */}}
{{- define "ekspose.controllers" -}}
deployment-controller: deploymentController
service-controller: serviceController
ingress-controller: ingressController
{{- end }}

{{/* Labels on everything: the manifests' own, plus Helm's. $ctx: { root, name, component } */}}
{{- define "ekspose.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: ekspose
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{/* What selects a component's pods: the same as the manifests', so a kustomize install can be taken over. */}}
{{- define "ekspose.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: ekspose
{{- end }}

{{- define "ekspose.natsUrl" -}}
{{- if .Values.settings.NATS_URL -}}
{{ .Values.settings.NATS_URL }}
{{- else if .Values.nats.enabled -}}
nats://nats.{{ .Release.Namespace }}.svc:4222
{{- else -}}
{{ fail "nats.enabled is false: set settings.NATS_URL to the NATS the controllers should use" }}
{{- end -}}
{{- end }}

{{- define "ekspose.natsReplicas" -}}
{{- if .Values.nats.cluster }}3{{ else }}1{{ end -}}
{{- end }}

{{- define "ekspose.natsSecret" -}}
{{- default "ekspose-nats-credentials" .Values.nats.credentials.existingSecret -}}
{{- end }}

{{/* The settings ConfigMap's data: values.settings with the computed defaults filled in; empty values left out as unset. */}}
{{- define "ekspose.settings" -}}
{{- $s := deepCopy .Values.settings -}}
{{- $_ := set $s "NATS_URL" (include "ekspose.natsUrl" .) -}}
{{- if eq (toString (default "" $s.NATS_STREAM_REPLICAS)) "" -}}
{{- $_ := set $s "NATS_STREAM_REPLICAS" (include "ekspose.natsReplicas" .) -}}
{{- end -}}
{{- range $k := keys $s | sortAlpha }}
{{- $v := get $s $k }}
{{ $k }}: {{ toString $v | quote }}
{{- end }}
{{- end }}
