//go:build tools

// Package tools keeps kwok, which plays the kubelet of a fake node for the
// traffic suite (pods get Ready and an IP from a CIDR of our choosing), in this
// module's requirements; build.sh builds its cmd/kwok and copies the stages it
// ships. A module of its own, like skipper and nats-server.
package tools

import _ "sigs.k8s.io/kwok/pkg/kwok/cmd"
