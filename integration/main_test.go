//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// lanseeddBin is the daemon under test: built from this tree for the run,
// or the binary $LANSEEDD_BIN names.
var lanseeddBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if bin := os.Getenv("LANSEEDD_BIN"); bin != "" {
		// An installed or prebuilt binary.
		lanseeddBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "lanseedd-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	lanseeddBin = filepath.Join(dir, "lanseedd")
	gocmd, err := exec.LookPath("go")
	if err != nil {
		gocmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(gocmd, "build", "-o", lanseeddBin, "github.com/lanseedd/lanseedd/cmd/lanseedd")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lanseedd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
