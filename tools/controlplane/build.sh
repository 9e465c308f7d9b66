#!/usr/bin/env bash
# Builds the local control plane: etcd, kube-apiserver, kube-controller-manager,
# kubectl and nats-server, from the Go modules pinned in this folder.
#
# The binaries go to a per-user cache outside the checkout, keyed by a hash of
# the pinned modules and the Go version, so a fresh clone (which is what CI
# runs) finds them built. A warm run prints the folder and does nothing else.
#
#   tools/controlplane/build.sh          build if needed, print the bin folder last
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
key=$( { go version; cat "$here/go.mod" "$here/go.sum" "$here/nats/go.mod" "$here/nats/go.sum" "$here/cmd/etcd/main.go" "$here/build.sh"; } | sha256sum | cut -c1-16)
cache_root="${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}"
bin="$cache_root/controlplane/${K8S_VERSION}-${key}/bin"
stamp="$bin/.complete"
if [ -f "$stamp" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
if ! (cd "$here" && go mod download >/dev/null 2>&1); then
  log "error: could not download the Go modules. Is the Go module proxy reachable? (GOPROXY=$(go env GOPROXY))"
  (cd "$here" && go mod download) || true
  exit 1
fi

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

targets=(kube-apiserver kube-controller-manager kubectl etcd nats-server)
log "building ${#targets[@]} binaries into $bin (first build takes 10-20 minutes on 2 cores; later runs reuse it)"
i=0
for t in "${targets[@]}"; do
  i=$((i + 1))
  start=$(date +%s)
  log "[$i/${#targets[@]}] $t ..."
  case "$t" in
    etcd)        (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" ./cmd/etcd) ;;
    nats-server) (cd "$here/nats" && go build -trimpath -ldflags "-s -w" -o "$bin/nats-server" github.com/nats-io/nats-server/v2) ;;
    *)           (cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/$t" "k8s.io/kubernetes/cmd/$t") ;;
  esac
  log "[$i/${#targets[@]}] $t done in $(( $(date +%s) - start ))s"
done
"$bin/kube-apiserver" --version >&2
date -u +%FT%TZ > "$stamp"
echo "$bin"
