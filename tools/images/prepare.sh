#!/usr/bin/env bash
# What the three image builds share, done once before they run in parallel
# (`nx run images:prepare`, a dependency of every app's `container` target):
# podman and runc installed (apt-get must not run three times at once: it
# takes the dpkg lock), and the base image present.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_podman
step "podman $(podman version --format '{{.Client.Version}}'), runtime $OCI_RUNTIME, config $CONTAINERS_CONF"
ensure_base_image
