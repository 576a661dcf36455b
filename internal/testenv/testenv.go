// Package testenv holds the rule tests follow for what the machine must
// provide (under CI, the CI variable set, a missing program is a failure;
// elsewhere the test is skipped with the reason) and the helpers tests of
// several packages share.
package testenv

import (
	"crypto/rand"
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

// RandomFile writes size random bytes to path and returns them.
func RandomFile(tb testing.TB, path string, size int) []byte {
	tb.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return data
}
