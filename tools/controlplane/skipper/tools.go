//go:build tools

// Package tools keeps skipper, the ingress proxy the traffic suite sends real
// requests through, in this module's requirements; build.sh builds its
// cmd/skipper. A module of its own, so that its dependencies never change the
// versions Kubernetes or kwok are built with.
package tools

import _ "github.com/zalando/skipper"
