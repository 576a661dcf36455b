// Package testenv holds the rule tests follow for what the machine must
// provide: under CI (the CI variable set) a missing program is a failure,
// elsewhere the test is skipped with the reason.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of program name, or fails the test under CI
// and skips it elsewhere.
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
		}
		tb.Skipf("%s is not installed: %v", name, err)
	}
	return path
}
