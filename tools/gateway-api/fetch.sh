#!/usr/bin/env bash
# The Gateway API standard-channel CRDs, from the Go module sigs.k8s.io/gateway-api
# (its config/crd/standard/), fetched through the Go module proxy and cached next to
# the control plane. Nothing is copied into the repository.
#
#   tools/gateway-api/fetch.sh     fetch if needed, print the folder of CRD files last
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[gateway-api] %s\n' "$*" >&2; }
. "$here/../controlplane/versions.env"
cache_root="${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}"
out="$cache_root/gateway-api/${GATEWAY_API_VERSION}"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "error: Go is not installed or not on PATH; the Gateway API CRDs come from the Go module sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}"
  exit 1
fi
log "fetching sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} (standard-channel CRDs)"
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir/config/crd/standard" ]; then
  log "error: go mod download gave no config/crd/standard for sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} (GOPROXY=$(go env GOPROXY))"
  exit 1
fi
# Assembled aside and moved in whole: test files running in parallel may fetch at once,
# and none may read a half-copied folder.
tmp="$(mktemp -d "$(dirname "$out")/.fetch-XXXXXX" 2>/dev/null || { mkdir -p "$(dirname "$out")" && mktemp -d "$(dirname "$out")/.fetch-XXXXXX"; })"
# The CRDs only: the standard channel also ships a ValidatingAdmissionPolicy for safe upgrades.
for f in "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
  case "$f" in *_vap_*) continue ;; esac
  cp "$f" "$tmp/"
done
chmod -R u+w,go+rX "$tmp"
date -u +%FT%TZ > "$tmp/.complete"
if ! mv -T "$tmp" "$out" 2>/dev/null; then
  rm -rf "$tmp"   # another run moved its copy in first
fi
log "$(ls "$out"/*.yaml | wc -l) CRDs in $out"
echo "$out"
