{{/* The three controllers: name -> their key in values. */}}
{{- define "ekspose.controllers" -}}
deployment-controller: deploymentController
service-controller: serviceController
ingress-controller: ingressController
{{- end }}

{{/*
The prefix of every name that is not a controller's, NATS's or a metrics Service's own (those
stay fixed: the controllers find their Leases and NATS by them, within the release namespace):
ClusterRoles and their bindings, the Lease Roles, the settings ConfigMap, the NATS credentials
Secret, the admission policy. "ekspose" for a release named ekspose (what manifests/ holds, so
the chart renders the same names), else <release>-ekspose, or fullnameOverride: two releases,
each in its own namespace, install side by side. At most 40 characters, so that
"<fullname>-deployment-controller-leader-election" stays a valid name.
*/}}
{{- define "ekspose.fullname" -}}
{{- $name := .Values.fullnameOverride | default (ternary .Release.Name (printf "%s-ekspose" .Release.Name) (contains "ekspose" .Release.Name)) -}}
{{- if gt (len $name) 40 -}}
{{- fail (printf "the release name gives the names a prefix %q longer than 40 characters: set fullnameOverride to a shorter one" $name) -}}
{{- end -}}
{{- $name -}}
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
{{- else if and .Values.nats.enabled .Values.nats.tls.enabled -}}
tls://nats:4222
{{- else if .Values.nats.enabled -}}
nats://nats:4222
{{- else -}}
{{ fail "nats.enabled is false: set settings.NATS_URL to the NATS the controllers should use" }}
{{- end -}}
{{- end }}

{{- define "ekspose.natsReplicas" -}}
{{- if .Values.nats.cluster }}3{{ else }}1{{ end -}}
{{- end }}

{{- define "ekspose.natsSecret" -}}
{{- default (printf "%s-nats-credentials" (include "ekspose.fullname" .)) .Values.nats.credentials.existingSecret -}}
{{- end }}

{{/*
"true" when the chart is rendered against a cluster (helm install/upgrade, Flux's
helm-controller): lookup then lists the namespaces. Under helm template, Argo CD and
--dry-run lookup answers nothing, so nothing may depend on what it would have found.
*/}}
{{- define "ekspose.clusterVisible" -}}
{{- if (lookup "v1" "Namespace" "" "") }}true{{ end -}}
{{- end }}

{{/*
The NATS passwords (docs/decisions/0008), as the Secret's data: the ones already in the
cluster, or new random ones on the first install. Only with the cluster in sight: rendered
offline, a random password would differ on every render (and from the one the running
servers hold), so the render fails there unless nats.credentials.existingSecret is set.
*/}}
{{- define "ekspose.natsCredentialsData" -}}
{{- /* Made once per render (a random password must be the same in the Secret and in the checksum). */ -}}
{{- if not (hasKey .Values "__natsCredentialsData") -}}
{{- if not (include "ekspose.clusterVisible" .) -}}
{{- fail (printf `nats.credentials.existingSecret is required when the chart is rendered without access to the cluster (helm template, Argo CD, --dry-run): passwords made here would change on every render. Create the Secret once, e.g.
  kubectl -n %s create secret generic %s $(for u in deployment-controller service-controller ingress-controller admin route; do printf -- '--from-literal=%%s=k%%s ' "$u" "$(openssl rand -hex 24)"; done)
then set nats.credentials.existingSecret=%s (helm install and helm upgrade, which see the cluster, make it themselves).` .Release.Namespace (include "ekspose.natsSecret" .) (include "ekspose.natsSecret" .)) -}}
{{- end -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ekspose.natsSecret" .) -}}
{{- $data := dict -}}
{{- /* route: the servers' own, to join the cluster (nats.conf's cluster authorization). */ -}}
{{- range $user := list "deployment-controller" "service-controller" "ingress-controller" "admin" "route" }}
{{- $old := "" }}
{{- if $existing }}{{ $old = index (default dict $existing.data) $user | default "" }}{{ end }}
{{- $_ := set $data $user ($old | default (printf "k%s" (randAlphaNum 48) | b64enc)) }}
{{- end }}
{{- $_ := set .Values "__natsCredentialsData" $data -}}
{{- end -}}
{{- toYaml (get .Values "__natsCredentialsData") -}}
{{- end }}

{{/*
The pods' annotation that rolls them when the NATS passwords change: a hash of the Secret's
data where the chart can see it (it makes it, or lookup reads an existingSecret); nothing
when rendered offline with an existingSecret, so that every render is the same.
*/}}
{{- define "ekspose.natsCredentialsChecksum" -}}
{{- if .Values.nats.credentials.existingSecret -}}
{{- $s := lookup "v1" "Secret" .Release.Namespace .Values.nats.credentials.existingSecret -}}
{{- if and $s $s.data -}}
checksum/nats-credentials: {{ toJson $s.data | sha256sum }}
{{- end -}}
{{- else if .Values.nats.enabled -}}
checksum/nats-credentials: {{ include "ekspose.natsCredentialsData" . | fromYaml | toJson | sha256sum }}
{{- end -}}
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

{{/* A quantity (Ki, Mi, Gi or Ti) in whole MiB, rounded down; $ctx: { what, q }. */}}
{{- define "ekspose.mebibytes" -}}
{{- $q := toString .q -}}
{{- $n := regexFind "^[0-9]+" $q -}}
{{- $unit := trimPrefix $n $q -}}
{{- $units := dict "Ki" 0 "Mi" 1 "Gi" 1024 "Ti" 1048576 -}}
{{- if or (not $n) (not (hasKey $units $unit)) -}}
{{- fail (printf "%s is %q: give it in Ki, Mi, Gi or Ti (the NATS store and memory limits are derived from it)" .what $q) -}}
{{- end -}}
{{- if eq $unit "Ki" }}{{ div (int64 $n) 1024 }}{{ else }}{{ mul (int64 $n) (get $units $unit) }}{{ end -}}
{{- end }}

{{/* NATS's memory limit in MiB: GOMEMLIMIT (90%) and the JetStream memory store (a quarter) follow it. */}}
{{- define "ekspose.natsMemoryMiB" -}}
{{- $limit := dig "limits" "memory" "" .Values.nats.resources -}}
{{- if not $limit }}{{ fail "nats.resources.limits.memory is required: GOMEMLIMIT and the JetStream memory store are derived from it" }}{{ end -}}
{{- include "ekspose.mebibytes" (dict "what" "nats.resources.limits.memory" "q" $limit) -}}
{{- end }}

{{/* The Secret with the NATS certificates (tls.crt, tls.key, ca.crt): the user's, cert-manager's or the chart's. */}}
{{- define "ekspose.natsTlsSecret" -}}
{{- default (printf "%s-nats-tls" (include "ekspose.fullname" .)) .Values.nats.tls.existingSecret -}}
{{- end }}

{{/* The names the NATS certificate holds: the client Service and each server behind the headless one, short and qualified. */}}
{{- define "ekspose.natsTlsNames" -}}
{{- $ns := .Release.Namespace -}}
{{- toJson (list "nats" (printf "nats.%s" $ns) (printf "nats.%s.svc" $ns) "*.nats-headless" (printf "*.nats-headless.%s" $ns) (printf "*.nats-headless.%s.svc" $ns)) -}}
{{- end }}

{{/*
The chart-made NATS certificate's Secret data: the one in the cluster, or a new CA and server
certificate on the first install. Offline (helm template, Argo CD) it cannot be kept, so the
render fails there unless nats.tls.existingSecret or nats.tls.certManager is set.
*/}}
{{- define "ekspose.natsTlsData" -}}
{{- if not (hasKey .Values "__natsTlsData") -}}
{{- if not (include "ekspose.clusterVisible" .) -}}
{{- fail (printf `nats.tls.enabled needs nats.tls.existingSecret or nats.tls.certManager.issuerRef when the chart is rendered without access to the cluster (helm template, Argo CD, --dry-run): a certificate made here would change on every render. Make a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt for the names %s in namespace %s, or name a cert-manager Issuer (helm install and helm upgrade, which see the cluster, make one themselves).` (include "ekspose.natsTlsNames" .) .Release.Namespace) -}}
{{- end -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "ekspose.natsTlsSecret" .) -}}
{{- $data := dict -}}
{{- if and $existing $existing.data (index $existing.data "tls.crt") -}}
{{- $data = pick $existing.data "tls.crt" "tls.key" "ca.crt" -}}
{{- else -}}
{{- $ca := genCA (printf "%s NATS CA" (include "ekspose.fullname" .)) 3650 -}}
{{- $cert := genSignedCert "nats" nil (include "ekspose.natsTlsNames" . | fromJsonArray) 3650 $ca -}}
{{- $data = dict "tls.crt" ($cert.Cert | b64enc) "tls.key" ($cert.Key | b64enc) "ca.crt" ($ca.Cert | b64enc) -}}
{{- end -}}
{{- $_ := set .Values "__natsTlsData" $data -}}
{{- end -}}
{{- toYaml (get .Values "__natsTlsData") -}}
{{- end }}

{{/* Rolls NATS and the controllers when the certificate changes, where the chart can see it. */}}
{{- define "ekspose.natsTlsChecksum" -}}
{{- if and .Values.nats.enabled .Values.nats.tls.enabled -}}
{{- if or .Values.nats.tls.existingSecret .Values.nats.tls.certManager.issuerRef.name -}}
{{- $s := lookup "v1" "Secret" .Release.Namespace (include "ekspose.natsTlsSecret" .) -}}
{{- if and $s $s.data -}}
checksum/nats-tls: {{ toJson $s.data | sha256sum }}
{{- end -}}
{{- else -}}
checksum/nats-tls: {{ include "ekspose.natsTlsData" . | fromYaml | toJson | sha256sum }}
{{- end -}}
{{- end -}}
{{- end }}
