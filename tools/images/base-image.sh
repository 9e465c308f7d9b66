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
#
# Settings: NODE_BIN (default: the pinned Node 24, fetched once if missing), BASE_IMAGE (the tag, default the public name).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

force=false
[ "${1:-}" = "--force" ] && force=true
ensure_podman

if ! $force && podman image exists "$BASE_IMAGE"; then
  step "base image $BASE_IMAGE is present; not rebuilding (--force to rebuild)"
  exit 0
fi

if [ -z "${NODE_BIN:-}" ]; then
  # The same binary the tests run on: installed once into the cache by ensure-node.mjs.
  node_dir=$(command -v node > /dev/null && node --input-type=module -e \
    "import('$WORKSPACE_ROOT/tools/scripts/lib/ensure-node.mjs').then((m) => console.log(m.installPinnedNode()))" | tail -n 1) ||
    die "could not get the pinned Node 24 (tools/scripts/lib/ensure-node.mjs); set NODE_BIN to a Node 24 binary"
  NODE_BIN=$node_dir/node
fi
node_bin=$(readlink -f "$NODE_BIN")
node_version=$("$node_bin" --version)
case "$node_version" in
  v24.*) ;;
  *) die "$node_bin is $node_version; the image must run Node 24 LTS (set NODE_BIN)" ;;
esac
arch=$(uname -m)
step "assembling $BASE_IMAGE from $node_bin $node_version ($arch)"

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
libs=$(ldd "$node_bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }')
[ -n "$libs" ] || die "ldd found no libraries for $node_bin"
for lib in $libs; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
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
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  --change 'LABEL io.ekspose.base-image=local' \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for $BASE_IMAGE assembled by tools/images/base-image.sh from node $node_version\"" \
  --message "ekspose local base from $node_bin $node_version" \
  "$tarball" "$BASE_IMAGE" > /dev/null
if [ -n "$old_id" ]; then podman rmi "$old_id" > /dev/null 2>&1 || true; fi

size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
step "built $BASE_IMAGE: node $node_version, $((size / 1024 / 1024)) MiB"
