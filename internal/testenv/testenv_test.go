package testenv

import (
	"testing"
)

func TestRequireTool(t *testing.T) {
	if p := RequireTool(t, "sh"); p == "" {
		t.Fatal("no path for sh")
	}
	// A missing program skips outside CI.
	t.Setenv("CI", "")
	t.Run("missing", func(t *testing.T) {
		RequireTool(t, "lanseedd-no-such-program")
		t.Fatal("RequireTool returned for a missing program")
	})
}
