# Shared by build.sh, smoke.sh and base-image.sh (sourced, not run).
# Puts podman on PATH (installing it with apt-get when missing) and points it at
# the config files in this folder through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF.

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE_ROOT=$(cd "$IMAGES_DIR/../.." && pwd)
# The Dockerfiles' default base; base-image.sh builds a local stand-in under this exact name.
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/node:24-trixie-slim}
CONTROLLERS=(deployment-controller service-controller ingress-controller)

step() { printf '[images] %s\n' "$*" >&2; }
die() {
  printf '[images] error: %s\n' "$*" >&2
  exit 1
}

# Root runs the given command directly, anyone else through sudo (CI runners have it without a password).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo > /dev/null; then
    sudo -n "$@"
  else
    die "need root to run: $*"
  fi
}

ensure_podman() {
  if ! command -v podman > /dev/null || ! command -v runc > /dev/null; then
    command -v apt-get > /dev/null ||
      die "podman and runc are needed and this is not a Debian/Ubuntu machine; install them with the system's package manager"
    step "podman or runc missing: installing them with apt-get (needs root, ~1 min)"
    # `nx run images:prepare` does this once before the parallel container targets;
    # the lock is for anyone who runs several build.sh at once by hand.
    as_root flock /var/lib/dpkg/ekspose-install.lock sh -c \
      'command -v podman > /dev/null && command -v runc > /dev/null ||
       { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman runc > /dev/null; }'
  fi
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$IMAGES_DIR/containers.conf}
  OCI_RUNTIME=${EKSPOSE_OCI_RUNTIME:-$(command -v runc)}
  PODMAN_SUDO=false
  if [ "$(id -u)" -eq 0 ]; then
    export CONTAINERS_STORAGE_CONF=${CONTAINERS_STORAGE_CONF:-$IMAGES_DIR/storage.conf}
  elif [ -n "${CI:-}" ] && command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    # CI runners are non-root with password-less sudo; rootful podman there behaves
    # as it does here, where rootless needs subuids and user namespaces that vary by runner.
    export CONTAINERS_STORAGE_CONF=${CONTAINERS_STORAGE_CONF:-$IMAGES_DIR/storage.conf}
    PODMAN_SUDO=true
  fi
  # Otherwise rootless podman, with its per-user storage (the root paths in storage.conf are not writable).
}

# The base image the Dockerfiles name: present, pulled when it can be, or assembled locally by base-image.sh.
ensure_base_image() {
  if ! podman image exists "$BASE_IMAGE"; then
    local pulled=false
    if [ "${EKSPOSE_BASE_PULL:-auto}" != never ]; then
      step "pulling $BASE_IMAGE"
      podman pull --quiet "$BASE_IMAGE" > /dev/null && pulled=true
    fi
    if ! $pulled; then
      step "$BASE_IMAGE not available: assembling a local stand-in with tools/images/base-image.sh"
      bash "$IMAGES_DIR/base-image.sh"
    fi
  fi
  if [ "$(podman image inspect --format '{{index .Config.Labels "io.ekspose.base-image"}}' "$BASE_IMAGE")" = local ]; then
    step "base $BASE_IMAGE: the local stand-in built by base-image.sh"
  else
    step "base $BASE_IMAGE: $(podman image inspect --format '{{.Digest}}' "$BASE_IMAGE")"
  fi
}

podman() {
  if [ "${PODMAN_SUDO:-false}" = true ]; then
    sudo -n env "CONTAINERS_CONF=$CONTAINERS_CONF" "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF" podman "$@"
  else
    command podman "$@"
  fi
}

app_arg() {
  local app=${1:-}
  local known
  for known in "${CONTROLLERS[@]}"; do
    if [ "$app" = "$known" ]; then
      printf '%s' "$app"
      return
    fi
  done
  die "usage: $(basename "$0") <${CONTROLLERS[*]// /|}> (got '${app}')"
}

workspace_version() {
  node -p "JSON.parse(require('fs').readFileSync('$WORKSPACE_ROOT/package.json', 'utf8')).version"
}

# Local tag that build.sh writes and smoke.sh runs.
image_ref() {
  printf 'ekspose/%s:%s' "$1" "$(workspace_version)"
}
