package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/web"
)

// startMain starts a daemon in-process that the test itself closes; if it
// does not, cleanup does, without judging the error.
func startMain(t *testing.T, content string, logger *slog.Logger, opts ...func(*Config)) (m *Main, closed *bool) {
	t.Helper()
	m = NewMain(testConfig(t, content, opts...), logger)
	if err := m.Start(context.Background()); err != nil {
		m.Close()
		t.Fatalf("start daemon: %v", err)
	}
	closed = new(bool)
	t.Cleanup(func() {
		if !*closed {
			m.Close()
		}
	})
	return m, closed
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// systemdSocket is a NOTIFY_SOCKET as systemd provides, with the watchdog
// enabled at interval.
func systemdSocket(t *testing.T, interval time.Duration) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", itoa(interval.Microseconds()))
	t.Setenv("WATCHDOG_PID", "")
	return conn
}

// pings counts the WATCHDOG=1 messages that arrive within d.
func pings(t *testing.T, conn *net.UnixConn, d time.Duration) int {
	t.Helper()
	n := 0
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(d))
	for {
		k, err := conn.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:k]) == "WATCHDOG=1" {
			n++
		}
	}
}

func TestWatchdogFedOnlyWhileHealthy(t *testing.T) {
	const interval = 100 * time.Millisecond // a ping every 50 ms
	sock := systemdSocket(t, interval)
	m, closed := startMain(t, t.TempDir(), testLogger(t))
	var out logBuffer
	stop := watchdog(newLogger(&out, "text", slog.LevelInfo), m.Healthy)
	defer stop()

	if n := pings(t, sock, 10*interval); n < 3 {
		t.Fatalf("%d watchdog pings in %s while healthy, want about 10", n, 10*interval)
	}
	// The admin listener goes away: that part stops.
	m.adminLn.Close()
	select {
	case err := <-m.Failed():
		if !strings.HasPrefix(err.Error(), "admin: ") {
			t.Errorf("Failed gave %v, want the admin part's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Failed did not fire after the admin listener closed")
	}
	pings(t, sock, interval) // one may have been on its way
	if n := pings(t, sock, 10*interval); n != 0 {
		t.Errorf("%d watchdog pings with a part stopped, want none", n)
	}
	if got := strings.Count(out.String(), "not pinging the watchdog"); got != 1 {
		t.Errorf("withholding logged %d times, want once:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "not running: admin") {
		t.Errorf("the log does not say which part stopped:\n%s", out.String())
	}
	*closed = true
	if err := m.Close(); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("Close = %v, want the admin part's error", err)
	}
}

func TestPartStopFailsDaemon(t *testing.T) {
	for _, c := range []struct {
		name   string
		kill   func(*Main)
		want   string
		isStop bool // stopped without an error of its own
	}{
		{"listener closed", func(m *Main) { m.httpLn.Close() }, "http: ", false},
		{"returned nil", func(m *Main) { m.goRun("extra", func() error { return nil }) }, "extra: stopped before shutdown", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, closed := startMain(t, t.TempDir(), testLogger(t))
			if err := m.Healthy(); err != nil {
				t.Fatalf("a daemon just started is unhealthy: %v", err)
			}
			c.kill(m)
			select {
			case err := <-m.Failed():
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("Failed gave %v, want %q", err, c.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Failed did not fire")
			}
			if err := m.Healthy(); err == nil {
				t.Error("Healthy with a part stopped")
			}
			*closed = true
			err := m.Close()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Close = %v, want an error with %q", err, c.want)
			}
			if errors.Is(err, errStopped) != c.isStop {
				t.Errorf("errors.Is(%v, errStopped) = %v", err, !c.isStop)
			}
		})
	}
}

func TestCleanCloseIsNoFailure(t *testing.T) {
	m, closed := startMain(t, t.TempDir(), testLogger(t))
	*closed = true
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close of an idle daemon took %s", took)
	}
	select {
	case err := <-m.Failed():
		t.Errorf("Failed fired on a clean Close: %v", err)
	default:
	}
}

func TestCloseWithinBudgetDespiteSlowClient(t *testing.T) {
	content := t.TempDir()
	// Larger than the loopback socket buffers: the server blocks on a
	// client that does not read.
	f, err := os.Create(filepath.Join(content, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, closed := startMain(t, content, testLogger(t), func(c *Config) { c.HTTP.WebSeedMode = web.WebSeedAlways })
	m.stopBudget = 2 * time.Second
	d := &testDaemon{Main: m}
	if _, err := m.Store.DB().Exec("INSERT INTO files(path) VALUES ('big.bin')"); err != nil {
		t.Fatal(err)
	}
	d.waitState(t, 1, lanseedd.StateReady)

	resp, err := http.Get(web.WebSeedURL(m.HTTPURL(), 1) + "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("web seed: %s", resp.Status)
	}
	// The body is left unread: the request stays open.
	*closed = true
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	took := time.Since(start)
	if took > m.stopBudget+500*time.Millisecond {
		t.Errorf("Close took %s, budget %s", took, m.stopBudget)
	}
	if took < m.stopBudget/2 {
		t.Errorf("Close took %s: the client's request did not hold the server, so this shows nothing", took)
	}
}
