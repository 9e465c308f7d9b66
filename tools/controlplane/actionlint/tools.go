//go:build tools

// Package tools keeps actionlint in this module's requirements; actionlint.sh builds its
// cmd/actionlint for apps/ekspose-e2e/src/workflows.test.ts, which checks .github/workflows.
// A module of its own, so that its dependencies never change the versions of anything else.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
