//go:build tools

// Package tools keeps nats-server in this module's requirements; build.sh
// builds its main package. It is a module of its own so that nats-server's
// dependencies never change the versions Kubernetes is built with.
package tools

import _ "github.com/nats-io/nats-server/v2/server"
