package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lanseedd/lanseedd/tracker"
)

func startTracker(t *testing.T) string {
	t.Helper()
	tr, err := tracker.New(tracker.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := tracker.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns, err := tracker.ListenUDP(ctx, ln.Addr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ctx, ln, conns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

var repliesRE = regexp.MustCompile(`replies/s=(\d+)`)

func TestRun(t *testing.T) {
	addr := startTracker(t)
	for _, args := range [][]string{
		{"-proto", "udp"},
		{"-proto", "http"},
		{"-proto", "http", "-keepalive"},
		{"-proto", "udp", "-fill", "-swarms", "100", "-rss-pid", strconv.Itoa(os.Getpid())},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"-target", addr, "-duration", "300ms", "-swarms", "50", "-conns", "2", "-q"}, args...)
			if err := run(context.Background(), args, &out, &errOut); err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			m := repliesRE.FindStringSubmatch(out.String())
			if m == nil || m[1] == "0" {
				t.Fatalf("no replies: %s", out.String())
			}
		})
	}
}

func TestWriteWhitelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wl")
	if err := run(context.Background(), []string{"-swarms", "3", "-write-whitelist", path}, nil, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Fields(string(b))
	if len(lines) != 3 || len(lines[0]) != 40 {
		t.Fatalf("whitelist %q", b)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-target", "192.0.2.1:6969"}, &out, &errOut); err == nil {
		t.Fatal("accepted a non-loopback target")
	}
}
