package snapshot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiffSeesEveryKindOfWrite(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "a"), []byte("hello"), 0o644))
	must(os.Mkdir(filepath.Join(root, "d"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d", "b"), []byte("world"), 0o644))
	base, err := Take(root)
	must(err)
	if !base.Sorted() || len(base) != 4 {
		t.Fatalf("snapshot = %v", base)
	}
	again, err := Take(root)
	must(err)
	if d := Diff(base, again); d != nil {
		t.Fatalf("unchanged tree differs: %v", d)
	}

	for name, change := range map[string]func(){
		"overwrite same size": func() { must(os.WriteFile(filepath.Join(root, "a"), []byte("HELLO"), 0o644)) },
		"new file":            func() { must(os.WriteFile(filepath.Join(root, "d", "c"), nil, 0o644)) },
		"chmod":               func() { must(os.Chmod(filepath.Join(root, "d", "b"), 0o600)) },
		"truncate":            func() { must(os.Truncate(filepath.Join(root, "d", "b"), 0)) },
	} {
		change()
		now, err := Take(root)
		must(err)
		if Diff(base, now) == nil {
			t.Errorf("%s: not seen", name)
		}
		base = now
	}
}
