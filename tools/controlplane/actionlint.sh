#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow checker) from the Go module pinned in
# actionlint/, into a per-user cache keyed by that module and the Go version, and prints
# the folder. Apart from build.sh, whose cache key covers the whole control plane: adding a
# tool there would rebuild every set. A warm run prints the folder and does nothing else.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v go >/dev/null 2>&1; then
  echo "[actionlint] error: Go is not installed or not on PATH (actionlint is built from its Go module)" >&2
  exit 1
fi
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
version=$(sed -n 's/^require github.com\/rhysd\/actionlint \(v[^ ]*\)$/\1/p' "$here/actionlint/go.mod")
key=$( { go version; cat "$here/actionlint/go.mod" "$here/actionlint/go.sum" "$0"; } | sha256sum | cut -c1-16)
bin="${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}/actionlint/${version}-${key}/bin"
if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$bin"
echo "[actionlint] building actionlint ${version} into $bin" >&2
(cd "$here/actionlint" && go build -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=${version}" -o "$bin/actionlint" github.com/rhysd/actionlint/cmd/actionlint)
"$bin/actionlint" -version >&2
date -u +%FT%TZ > "$bin/.complete"
echo "$bin"
