package tracker

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// listeners are the kinds of listener ServeTCP gets: ListenTCP's (deferred
// accept on Linux), a plain one, and one it cannot see is TCP (Accept).
var listeners = []struct {
	name   string
	listen func(tb testing.TB) net.Listener
}{
	{"ListenTCP", func(tb testing.TB) net.Listener {
		ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		return ln
	}},
	{"net.Listen", func(tb testing.TB) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		return ln
	}},
	{"wrapped", func(tb testing.TB) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		return struct{ net.Listener }{ln}
	}},
}

// serveTCP runs tr.ServeTCP on ln until the test ends, and returns ln's
// address.
func serveTCP(tb testing.TB, tr *Tracker, ln net.Listener) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.ServeTCP(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return ln.Addr().String()
}

// readReply reads one HTTP reply from br and returns it with its body.
func readReply(tb testing.TB, br *bufio.Reader) (*http.Response, string) {
	tb.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(body)
}

// wantClosed checks that the server closes c within d, having sent
// nothing more.
func wantClosed(tb testing.TB, c net.Conn, br *bufio.Reader, d time.Duration) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	if b, err := br.ReadByte(); err != io.EOF {
		tb.Fatalf("read %q, %v; want the connection closed", b, err)
	}
}

func dialTracker(tb testing.TB, addr string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestServeTCPConnections checks how ServeTCP ends or keeps connections,
// on each kind of listener.
func TestServeTCPConnections(t *testing.T) {
	ih := hashN(1)
	for _, l := range listeners {
		t.Run(l.name, func(t *testing.T) {
			tr := newTestTracker(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
			addr := serveTCP(t, tr, l.listen(t))

			t.Run("HTTP/1.0 gets one reply, then close", func(t *testing.T) {
				c, br := dialTracker(t, addr)
				io.WriteString(c, "GET "+announceQ(ih, 1, "")+" HTTP/1.0\r\n\r\n")
				if resp, body := readReply(t, br); resp.StatusCode != 200 || !strings.Contains(body, "interval") {
					t.Fatalf("%s %q", resp.Status, body)
				}
				wantClosed(t, c, br, 5*time.Second)
			})
			t.Run("Connection: close gets one reply, then close", func(t *testing.T) {
				c, br := dialTracker(t, addr)
				io.WriteString(c, "GET "+announceQ(ih, 2, "")+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if resp, _ := readReply(t, br); resp.StatusCode != 200 || !resp.Close {
					t.Fatalf("%s, close %v", resp.Status, resp.Close)
				}
				wantClosed(t, c, br, 5*time.Second)
			})
			t.Run("request in pieces", func(t *testing.T) {
				c, br := dialTracker(t, addr)
				req := "GET " + announceQ(ih, 3, "") + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
				for _, part := range []string{req[:5], req[5:40], req[40 : len(req)-3], req[len(req)-3:]} {
					io.WriteString(c, part)
					time.Sleep(20 * time.Millisecond)
				}
				if resp, body := readReply(t, br); resp.StatusCode != 200 || !strings.Contains(body, "peers") {
					t.Fatalf("%s %q", resp.Status, body)
				}
				wantClosed(t, c, br, 5*time.Second)
			})
			t.Run("keep-alive and pipelining", func(t *testing.T) {
				c, br := dialTracker(t, addr)
				req := "GET " + announceQ(ih, 4, "") + " HTTP/1.1\r\nHost: x\r\n\r\n"
				io.WriteString(c, req+req) // both in one segment
				for range 2 {
					if resp, _ := readReply(t, br); resp.StatusCode != 200 || resp.Close {
						t.Fatalf("%s, close %v", resp.Status, resp.Close)
					}
				}
				io.WriteString(c, req)
				if resp, _ := readReply(t, br); resp.StatusCode != 200 || resp.Close {
					t.Fatalf("%s, close %v", resp.Status, resp.Close)
				}
				// Then idle: closed after IdleTimeout.
				wantClosed(t, c, br, 5*time.Second)
			})
			t.Run("bad request", func(t *testing.T) {
				c, br := dialTracker(t, addr)
				io.WriteString(c, "POST /announce HTTP/1.1\r\n\r\n")
				if resp, _ := readReply(t, br); resp.StatusCode != 405 {
					t.Fatalf("%s", resp.Status)
				}
				wantClosed(t, c, br, 5*time.Second)
			})
		})
	}
}

// TestServeTCPSilentClient checks that a client that connects and sends
// nothing is closed after IdleTimeout (on Linux the kernel first holds it
// up to the idle timeout in whole seconds, deferAccept).
func TestServeTCPSilentClient(t *testing.T) {
	for _, l := range listeners {
		t.Run(l.name, func(t *testing.T) {
			tr := newTestTracker(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
			addr := serveTCP(t, tr, l.listen(t))
			start := time.Now()
			c, br := dialTracker(t, addr)
			wantClosed(t, c, br, 5*time.Second)
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Fatalf("closed after %v, before the idle timeout", d)
			}
			// A client that stops halfway through its request is cut
			// after IdleTimeout too.
			c, br = dialTracker(t, addr)
			io.WriteString(c, "GET /announce?info_hash=")
			wantClosed(t, c, br, 15*time.Second)
		})
	}
}

// TestServeTCPSlowLocalSeeder checks that an announce waiting for the
// local seeder to load its torrent holds up no other connection.
func TestServeTCPSlowLocalSeeder(t *testing.T) {
	slow, fast := hashN(1), hashN(2)
	tr := newTestTracker(t, nil)
	tr.SetLocal(&Local{
		Addrs: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:6881")},
		Has: func(ih [20]byte, activate bool) bool {
			if ih == slow && activate {
				time.Sleep(2 * time.Second)
			}
			return true
		},
	})
	addr := serveTCP(t, tr, listeners[0].listen(t))
	c, _ := dialTracker(t, addr)
	io.WriteString(c, "GET "+announceQ(slow, 1, "")+" HTTP/1.0\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	c, br := dialTracker(t, addr)
	io.WriteString(c, "GET "+announceQ(fast, 1, "")+" HTTP/1.0\r\n\r\n")
	if resp, _ := readReply(t, br); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("answered after %v, behind the slow announce", d)
	}
}
