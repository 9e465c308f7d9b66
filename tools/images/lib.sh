# Shared by build.sh, smoke.sh and base-image.sh (sourced, not run).
# Puts podman on PATH (installing it with apt-get when missing) and points it at
# the config files in this folder through CONTAINERS_CONF / CONTAINERS_STORAGE_CONF.

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE_ROOT=$(cd "$IMAGES_DIR/../.." && pwd)
# The Dockerfiles' default base; base-image.sh builds a local stand-in under this exact name.
BASE_IMAGE_GIVEN=${BASE_IMAGE:-}
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/node:24-trixie-slim}
CONTROLLERS=(deployment-controller service-controller ingress-controller)
# The architecture the images are for: this machine's, unless `--arch` names the other one
# (select_arch). FOREIGN_ARCH=true then: the images get their own tags, so they never replace
# this machine's, and running them needs emulation (check_emulation).
IMAGE_ARCH=
FOREIGN_ARCH=false
TAG_SUFFIX=

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
    # The other architecture's default base is a local name no registry has; a BASE_IMAGE
    # given for it is pulled for that architecture.
    if [ "${EKSPOSE_BASE_PULL:-auto}" != never ] && { ! $FOREIGN_ARCH || [ -n "$BASE_IMAGE_GIVEN" ]; }; then
      step "pulling $BASE_IMAGE"
      podman pull --quiet --arch "${IMAGE_ARCH:-$(host_arch)}" "$BASE_IMAGE" > /dev/null && pulled=true
    fi
    if ! $pulled; then
      step "$BASE_IMAGE not available: assembling a local stand-in with tools/images/base-image.sh"
      bash "$IMAGES_DIR/base-image.sh" --arch "${IMAGE_ARCH:-$(host_arch)}"
    fi
  fi
  local base_arch
  base_arch=$(podman image inspect --format '{{.Architecture}}' "$BASE_IMAGE")
  [ "$base_arch" = "${IMAGE_ARCH:-$(host_arch)}" ] ||
    die "$BASE_IMAGE is for $base_arch, not ${IMAGE_ARCH:-$(host_arch)}; remove it or set BASE_IMAGE"
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

# Local tag that build.sh writes and smoke.sh runs (…-arm64 for an image of the other architecture).
image_ref() {
  printf 'ekspose/%s:%s%s' "$1" "$(workspace_version)" "$TAG_SUFFIX"
}

# This machine's architecture, as podman and Debian name it.
host_arch() {
  case $(uname -m) in
    x86_64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# Splits `--arch <amd64|arm64>` (or --arch=...) off the arguments: the rest is left in ARGS.
parse_arch_option() {
  local arch=""
  ARGS=()
  while [ $# -gt 0 ]; do
    case $1 in
      --arch)
        [ $# -ge 2 ] || die "--arch needs a value: amd64 or arm64"
        arch=$2
        shift 2
        ;;
      --arch=*)
        arch=${1#--arch=}
        shift
        ;;
      *)
        ARGS+=("$1")
        shift
        ;;
    esac
  done
  select_arch "${arch:-$(host_arch)}"
}

# Sets IMAGE_ARCH, FOREIGN_ARCH, TAG_SUFFIX and, for the other architecture, the base image's
# name: a local one (localhost/ekspose-base/node:24-trixie-slim-arm64), because podman keeps one
# image per name and the public name already holds this machine's base.
select_arch() {
  case $1 in
    amd64 | x86_64) IMAGE_ARCH=amd64 ;;
    arm64 | aarch64) IMAGE_ARCH=arm64 ;;
    *) die "unknown architecture '$1': amd64 or arm64" ;;
  esac
  if [ "$IMAGE_ARCH" = "$(host_arch)" ]; then
    FOREIGN_ARCH=false
    TAG_SUFFIX=
  else
    FOREIGN_ARCH=true
    TAG_SUFFIX=-$IMAGE_ARCH
    BASE_IMAGE=${BASE_IMAGE_GIVEN:-localhost/ekspose-base/node:24-trixie-slim-$IMAGE_ARCH}
  fi
}

# GNU triplet (Debian's multiarch folder) and the npm package suffix of node for an architecture.
arch_triplet() {
  case $1 in
    amd64) echo x86_64-linux-gnu ;;
    arm64) echo aarch64-linux-gnu ;;
  esac
}
node_arch() {
  case $1 in
    amd64) echo x64 ;;
    arm64) echo arm64 ;;
  esac
}

# Running an image of the other architecture needs a binfmt_misc entry for its ELF
# machine whose interpreter the kernel opens at registration (flag F), so that it works
# inside a container that does not have the interpreter. Prints what is missing and
# returns 1 when it cannot run; nothing is installed or registered here (the
# registration is the whole kernel's, not this project's to make).
check_emulation() {
  local arch=$1 machine qemu entry magic
  # EKSPOSE_BINFMT_DIR: another folder of entries, to try this check without changing the kernel's.
  local binfmt=${EKSPOSE_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}
  case $arch in
    arm64) machine=b700 qemu=qemu-aarch64 ;;
    amd64) machine=3e00 qemu=qemu-x86_64 ;;
  esac
  local how="install qemu-user-static (Debian/Ubuntu: it registers $qemu with flag F through systemd-binfmt or binfmt-support) or run: docker run --privileged --rm tonistiigi/binfmt --install $arch; tools/images/README.md (arm64) has the manual registration"
  if [ ! -e "$binfmt/status" ]; then
    EMULATION_MISSING="binfmt_misc is not mounted ($binfmt/status missing), so $arch binaries cannot run here; mount it (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc), then $how"
    return 1
  fi
  if [ "$(cat "$binfmt/status")" != enabled ]; then
    EMULATION_MISSING="binfmt_misc is disabled ($binfmt/status); $how"
    return 1
  fi
  for entry in "$binfmt"/*; do
    case $(basename "$entry") in register | status) continue ;; esac
    magic=$(sed -n 's/^magic //p' "$entry" 2> /dev/null)
    # ELF, 64-bit, little-endian, then e_machine at bytes 18-19 (0xb7 aarch64, 0x3e x86-64).
    [[ $magic == 7f454c4602010100* && ${magic:36:4} == "$machine" ]] || continue
    if ! grep -qx enabled "$entry"; then
      EMULATION_MISSING="$entry is registered but disabled; echo 1 > $entry"
      return 1
    fi
    if ! grep -q '^flags: .*F' "$entry"; then
      EMULATION_MISSING="$entry has no flag F (the interpreter $(sed -n 's/^interpreter //p' "$entry") would have to be inside every container); register it with flag F: $how"
      return 1
    fi
    EMULATION="$(basename "$entry") ($(sed -n 's/^interpreter //p' "$entry"), $(sed -n 's/^flags: //p' "$entry"))"
    return 0
  done
  EMULATION_MISSING="no binfmt_misc entry for $arch ELF binaries (no $qemu in $binfmt); $how"
  return 1
}
