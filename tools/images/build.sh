#!/usr/bin/env bash
# Builds the image of one controller from its bundle with podman:
#   npx nx run deployment-controller:build        # dist/apps/deployment-controller/main.js
#   bash tools/images/build.sh deployment-controller
# tags ekspose/<app>:<version> and ${EKSPOSE_IMAGE_REPO:-ghcr.io/ekspose}/<app>:<version>,
# <version> being package.json's. The base image (docker.io/library/node:24-trixie-slim)
# is used when present, pulled when it can be, and otherwise assembled locally by base-image.sh.
#   bash tools/images/build.sh deployment-controller --arch arm64
# builds it for the other architecture (arm64 on an amd64 machine) as ekspose/<app>:<version>-arm64
# and <repo>/<app>:<version>-arm64, on the base base-image.sh --arch arm64 assembles; the
# Dockerfiles have no RUN, so this needs no emulation (smoke.sh --arch arm64 does).
# Settings: BASE_IMAGE, EKSPOSE_IMAGE_REPO, EKSPOSE_BASE_PULL=never (do not try the registry),
# SOURCE_DATE_EPOCH (image timestamps; default: the HEAD commit's time, so a rebuild of the
# same bundle gives the same image).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_arch_option "$@"
[ ${#ARGS[@]} -le 1 ] || die "usage: $(basename "$0") <app> [--arch amd64|arm64] (got '${ARGS[*]}')"
app=$(app_arg "${ARGS[0]:-}")
cd "$WORKSPACE_ROOT"
started=$(date +%s%N)
elapsed() {
  local ms=$((($(date +%s%N) - started) / 1000000))
  printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

[ -f "dist/apps/$app/main.js" ] || die "no bundle at dist/apps/$app/main.js; run: npx nx run $app:build"
ensure_podman
step "podman $(podman version --format '{{.Client.Version}}'), runtime $OCI_RUNTIME, config $CONTAINERS_CONF"

ensure_base_image

version=$(workspace_version)
repo=${EKSPOSE_IMAGE_REPO:-ghcr.io/ekspose}
revision=$(git rev-parse HEAD 2> /dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || date +%s)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
bundle_kib=$(($(stat -c %s "dist/apps/$app/main.js") / 1024))
tag=$version$TAG_SUFFIX
step "building ekspose/$app:$tag for $IMAGE_ARCH from dist/apps/$app (main.js ${bundle_kib} KiB, revision ${revision:0:12})"
platform=()
$FOREIGN_ARCH && platform=(--arch "$IMAGE_ARCH")

podman build \
  --pull=never \
  "${platform[@]}" \
  --file "apps/$app/Dockerfile" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" \
  --timestamp "$epoch" \
  --tag "ekspose/$app:$tag" \
  --tag "$repo/$app:$tag" \
  . | sed -u 's/^/[podman] /'

size=$(podman image inspect --format '{{.Size}}' "ekspose/$app:$tag")
id=$(podman image inspect --format '{{.Id}}' "ekspose/$app:$tag")
built_arch=$(podman image inspect --format '{{.Architecture}}' "ekspose/$app:$tag")
[ "$built_arch" = "$IMAGE_ARCH" ] || die "ekspose/$app:$tag is for $built_arch, not $IMAGE_ARCH"
step "built ekspose/$app:$tag and $repo/$app:$tag ($IMAGE_ARCH, image ${id:0:12}, $((size / 1024 / 1024)) MiB) in $(elapsed)"
