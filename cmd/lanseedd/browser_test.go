package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// chromium runs headless Chromium with the flags this closed network needs.
func chromium(tb testing.TB, args ...string) []byte {
	tb.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		bin = testenv.RequireTool(tb, "chromium")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + tb.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	// Chromium's helper processes inherit the output pipe: on timeout kill
	// them all, and stop waiting for the pipe soon after.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// TestStatusPageInBrowser loads the status page of a running daemon with
// rows in several states in headless Chromium, checks what it shows, and
// keeps a screenshot (in $LANSEEDD_ARTIFACTS, or the temporary directory).
func TestStatusPageInBrowser(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "Фильм 01.mkv"), 700<<10)
	testenv.RandomFile(t, filepath.Join(content, "debian-12.iso"), 2<<20)
	testenv.RandomFile(t, filepath.Join(content, "notes.txt"), 4<<10)
	snapshot.Guard(t, content)
	d := startDaemon(t, content)
	var ready []int64
	for _, p := range []string{"Фильм 01.mkv", "debian-12.iso", "notes.txt"} {
		ready = append(ready, d.exec(t, "INSERT INTO files(path) VALUES (?)", p))
	}
	missing := d.exec(t, "INSERT INTO files(path) VALUES (?)", "Сериал/s01e02.mkv")
	bad := d.exec(t, "INSERT INTO files(path) VALUES (?)", "../../etc/shadow")
	for _, id := range ready {
		d.waitState(t, id, lanseedd.StateReady)
	}
	d.waitState(t, missing, lanseedd.StateMissing)
	d.waitState(t, bad, lanseedd.StateError)

	dom := string(chromium(t, "--dump-dom", d.AdminURL()+"/"))
	for _, want := range []string{
		`id="count-ready">3<`, `id="count-missing">1<`, `id="count-error">1<`, `id="count-pending">0<`,
		"Needs attention", "Сериал/s01e02.mkv", "no such file under the content root",
		"../../etc/shadow", "path escapes the content root",
		"Фильм 01.mkv", "debian-12.iso", "5 rows",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if i := strings.Index(dom, `id="attention"`); i < 0 {
		t.Errorf("no Needs attention table")
	} else if attention, _, _ := strings.Cut(dom[i:], "</table>"); strings.Contains(attention, "debian-12.iso") {
		t.Errorf("a ready row is listed under Needs attention")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	search := string(chromium(t, "--dump-dom", d.AdminURL()+"/?q=DEBIAN"))
	if !strings.Contains(search, "debian-12.iso") || strings.Contains(search, "notes.txt") || !strings.Contains(search, "1 rows") {
		t.Errorf("search for DEBIAN does not show just debian-12.iso")
	}

	dir := os.Getenv("LANSEEDD_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, _ := filepath.Abs(filepath.Join(dir, "status-page.png"))
	chromium(t, "--screenshot="+shot, "--window-size=1366,860", "--hide-scrollbars", d.AdminURL()+"/")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10<<10 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("status page screenshot: %s", shot)
}
