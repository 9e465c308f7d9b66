//go:build tools

// Package tools keeps promtool (rule checks and rule unit tests) and the
// Prometheus Operator (whose CRDs the monitoring tests install) in this
// module's requirements; build.sh builds cmd/promtool and copies the CRDs.
// A module of its own, so that its dependencies never change the versions
// Kubernetes is built with.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
