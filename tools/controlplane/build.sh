#!/usr/bin/env bash
# Builds the local control plane: etcd, kube-apiserver, kube-controller-manager,
# kubectl and nats-server, from the Go modules pinned in this folder; with
# `traffic`, the traffic suite's skipper (an ingress proxy), Traefik (a Gateway
# API implementation) and kwok (a fake kubelet) instead, which nothing else needs; with `ops`, helm, promtool and the
# Prometheus Operator CRDs the chart and monitoring tests use.
#
# The binaries go to a per-user cache outside the checkout, keyed by a hash of
# the pinned modules and the Go version, so a fresh clone (which is what CI
# runs) finds them built. A warm run prints the folder and does nothing else.
#
#   tools/controlplane/build.sh          build if needed, print the bin folder last
#   tools/controlplane/build.sh traffic  the same for skipper, traefik and kwok (+ kwok's stages)
#   tools/controlplane/build.sh ops      the same for helm and promtool (+ monitoring CRDs)
#   EKSPOSE_CACHE_DIR=/x build.sh        use another cache root
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[controlplane] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "error: Go is not installed or not on PATH. The control plane is built from"
  log "Go modules and needs Go >= $(sed -n 's/^go //p' "$here/go.mod") and the Go module proxy (GOPROXY=$(echo "${GOPROXY:-https://proxy.golang.org}"))."
  exit 1
fi
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

. "$here/versions.env"
set_name="${1:-controlplane}"
case "$set_name" in
  controlplane) modules=(. nats); version="$K8S_VERSION"; extra=("$here/cmd/etcd/main.go") ;;
  # Traefik has no go.mod here: its own (with its replace lines) is used; versions.env pins it.
  traffic)      modules=(skipper kwok); version="skipper-${SKIPPER_VERSION}"; extra=("$here/versions.env") ;;
  ops)          modules=(helm prometheus); version="helm-${HELM_VERSION}"; extra=("$here/versions.env") ;;
  *) log "error: unknown set '$set_name' (controlplane, traffic or ops)"; exit 2 ;;
esac
key=$( { go version; for m in "${modules[@]}"; do cat "$here/$m/go.mod" "$here/$m/go.sum"; done; cat "${extra[@]}" "$here/build.sh"; } | sha256sum | cut -c1-16)
cache_root="${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}"
bin="$cache_root/$set_name/${version}-${key}/bin"
stamp="$bin/.complete"
if [ -f "$stamp" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
for m in "${modules[@]}"; do
  if ! (cd "$here/$m" && go mod download >/dev/null 2>&1); then
    log "error: could not download the Go modules of $here/$m. Is the Go module proxy reachable? (GOPROXY=$(go env GOPROXY))"
    (cd "$here/$m" && go mod download) || true
    exit 1
  fi
done

# Prometheus 3.x is tagged v0.3xx.y as a Go module: v0.316.0 is 3.16.0.
prom_minor=${PROMETHEUS_VERSION#v0.}; prom_minor=${prom_minor%%.*}
prom_version="${prom_minor:0:1}.$((10#${prom_minor:1})).${PROMETHEUS_VERSION##*.}"
major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
kv="k8s.io/component-base/version"
cv="k8s.io/client-go/pkg/version"
kflags=""
for p in "$kv" "$cv"; do
  kflags+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=${major} -X $p.gitMinor=${minor}"
  kflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
ldflags="-s -w${kflags}"

if [ "$set_name" = traffic ]; then
  targets=(skipper traefik kwok)
  log "building ${#targets[@]} binaries into $bin (first build takes about 10 minutes on 2 cores; later runs reuse it)"
elif [ "$set_name" = ops ]; then
  targets=(helm promtool monitoring-crds)
  log "building helm and promtool into $bin (first build takes about 5 minutes on 2 cores; later runs reuse it)"
else
  targets=(kube-apiserver kube-controller-manager kubectl etcd nats-server)
  log "building ${#targets[@]} binaries into $bin (first build takes 10-20 minutes on 2 cores; later runs reuse it)"
fi
i=0
for t in "${targets[@]}"; do
  i=$((i + 1))
  start=$(date +%s)
  log "[$i/${#targets[@]}] $t ..."
  case "$t" in
    etcd)        (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" ./cmd/etcd) ;;
    nats-server) (cd "$here/nats" && go build -trimpath -ldflags "-s -w" -o "$bin/nats-server" github.com/nats-io/nats-server/v2) ;;
    skipper)     (cd "$here/skipper" && go build -trimpath -ldflags "-s -w" -o "$bin/skipper" github.com/zalando/skipper/cmd/skipper) ;;
    traefik)
      # Its go.mod has replace lines, so `go install …@version` refuses it: it is built
      # in a writable copy of its module source (the module cache is read-only), with
      # its own go.mod and go.sum. The web UI's assets are not in the module; the
      # binary builds and serves without them.
      src=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/traefik/traefik/v3@${TRAEFIK_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      work=$(mktemp -d "${TMPDIR:-/tmp}/ekspose-traefik-XXXXXX")
      cp -r "$src/." "$work/" && chmod -R u+w "$work"
      (cd "$work" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}" -o "$bin/traefik" ./cmd/traefik) || { rm -rf "$work"; exit 1; }
      rm -rf "$work"
      ;;
    kwok)
      (cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
      # The stages kwok ships (a node turns Ready; a pod turns Running with an IP; a deleted pod goes), from the pinned version.
      src=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
      for f in node/fast/node-initialize.yaml pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
        echo "---"
        cat "$src/kustomize/stage/$f"
      done > "$bin/kwok-stages.yaml"
      ;;
    helm)        (cd "$here/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" -o "$bin/helm" helm.sh/helm/v3/cmd/helm) ;;
    # Service discovery is what makes Prometheus big, and promtool's rule checks never use it.
    promtool)    (cd "$here/prometheus" && go build -trimpath -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=${prom_version}" -o "$bin/promtool" github.com/prometheus/prometheus/cmd/promtool) ;;
    monitoring-crds)
      # Only the two kinds ekspose ships objects of, from the operator's own module
      # (fetched as source; nothing of it is built).
      src=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      mkdir -p "$bin/crds"
      for kind in servicemonitors prometheusrules; do
        cp "$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$bin/crds/"
      done
      chmod -R u+w "$bin/crds"
      ;;
    *)           (cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/$t" "k8s.io/kubernetes/cmd/$t") ;;
  esac
  log "[$i/${#targets[@]}] $t done in $(( $(date +%s) - start ))s"
done
if [ "$set_name" = traffic ]; then
  "$bin/kwok" --version >&2 || true
  "$bin/traefik" version 2>&1 | head -1 >&2
elif [ "$set_name" = ops ]; then
  "$bin/helm" version --short >&2
  "$bin/promtool" --version 2>&1 | head -1 >&2
else
  "$bin/kube-apiserver" --version >&2
fi
date -u +%FT%TZ > "$stamp"
echo "$bin"
