//go:build tools

// Package tools keeps Helm in this module's requirements; build.sh builds its
// cmd/helm for the chart tests (helm lint, helm template). A module of its
// own, so that its dependencies never change the versions Kubernetes is built with.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
