#!/usr/bin/env bash
# The CRDs of the GitOps tools examples/ is written for, for the tests that validate
# the examples (apps/ekspose-e2e/src/gitops.test.ts): Argo CD's Application, copied
# from Argo CD's Go module, and Flux's HelmRelease and GitRepository, generated with
# controller-gen from Flux's API modules (as Flux makes its own), all pinned in
# tools/controlplane/gitops/. Apart from build.sh, so that its sets keep their keys.
#
# Cached like build.sh's sets (~/.cache/ekspose/gitops/<key>/crds); prints the folder last.
#   tools/controlplane/gitops-crds.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[gitops-crds] %s\n' "$*" >&2; }
if ! command -v go >/dev/null 2>&1; then
  log "error: Go is not installed or not on PATH (the CRDs come from Go modules through the Go module proxy)."
  exit 1
fi
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
. "$here/gitops/versions.env"
key=$( { go version; cat "$here/gitops/go.mod" "$here/gitops/go.sum" "$here/gitops/versions.env" "$here/gitops-crds.sh"; } | sha256sum | cut -c1-16)
cache_root="${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}"
out="$cache_root/gitops/$key/crds"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
start=$(date +%s)
log "generating the Flux and Argo CD CRDs into $out (first run builds controller-gen: 1-3 minutes on 2 cores)"
if ! (cd "$here/gitops" && go mod download >/dev/null 2>&1); then
  log "error: could not download the Go modules of $here/gitops. Is the Go module proxy reachable? (GOPROXY=$(go env GOPROXY))"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here/gitops" && go build -trimpath -ldflags "-s -w" -o "$tmp/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen)
(cd "$here/gitops" && "$tmp/controller-gen" crd:crdVersions=v1 \
  paths=github.com/fluxcd/helm-controller/api/v2 paths=github.com/fluxcd/source-controller/api/v1 \
  output:crd:dir="$tmp/flux")
cp "$tmp/flux/helm.toolkit.fluxcd.io_helmreleases.yaml" "$tmp/flux/source.toolkit.fluxcd.io_gitrepositories.yaml" "$out/"
# Argo CD's own CRD file, from its module (source only; nothing of it is built).
src=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ]; then
  log "error: could not download github.com/argoproj/argo-cd/v3@${ARGOCD_VERSION} through the Go module proxy"
  exit 1
fi
cp "$src/manifests/crds/application-crd.yaml" "$out/argoproj.io_applications.yaml"
chmod -R u+w "$out"
date -u +%FT%TZ > "$out/.complete"
log "done in $(( $(date +%s) - start ))s"
echo "$out"
