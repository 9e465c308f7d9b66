#!/usr/bin/env bash
# The release tag (vX.Y.Z, $1 or GITHUB_REF_NAME) must be the version everything carries:
# package.json's version, and charts/ekspose/Chart.yaml's version and appVersion (the chart
# and the images are released together). Prints the version; exits 1 naming each mismatch.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tag="${1:-${GITHUB_REF_NAME:-}}"
[ -n "$tag" ] || { echo "no tag given (argument or GITHUB_REF_NAME)" >&2; exit 2; }
want="${tag#v}"
package=$(node -p "require('$root/package.json').version")
chart=$(sed -n 's/^version:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$root/charts/ekspose/Chart.yaml")
app=$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$root/charts/ekspose/Chart.yaml")
bad=0
for pair in "package.json version:$package" "Chart.yaml version:$chart" "Chart.yaml appVersion:$app"; do
  name="${pair%:*}"; value="${pair##*:}"
  if [ "$value" != "$want" ]; then echo "tag $tag but $name is '${value}'" >&2; bad=1; fi
done
[ "$bad" = 0 ] || exit 1
echo "$want"
