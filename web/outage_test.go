package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
)

// blackhole is a catalog that never answers, as a server whose packets are
// dropped: every read waits for its context.
type blackhole struct {
	fakeCatalog
	mu    sync.Mutex
	calls int
}

func (b *blackhole) wait(ctx context.Context) error {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (b *blackhole) Get(ctx context.Context, _ int64) (lanseedd.Row, error) {
	return lanseedd.Row{}, b.wait(ctx)
}

func (b *blackhole) GetByInfoHash(ctx context.Context, _ string) (lanseedd.Row, error) {
	return lanseedd.Row{}, b.wait(ctx)
}

type logLines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestBlackholedCatalogFailsFast: after one read of a catalog that does not
// answer has timed out, requests fail at once for a while instead of each
// waiting as long, and the outage is logged once.
func TestBlackholedCatalogFailsFast(t *testing.T) {
	cat := &blackhole{}
	logs := &logLines{}
	cfg := Config{BaseURL: "http://fs.lan:8080", FeedItems: 10, WebSeedMode: WebSeedStandIn}
	pub := httptest.NewServer(NewPublic(cfg, cat, fakeSeeder{root: testRoot, dir: t.TempDir()}, slog.New(slog.NewTextHandler(logs, nil))))
	defer pub.Close()

	start := time.Now()
	if resp, _ := do(t, "GET", pub.URL+"/api/files/1"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("first request: %s, want 503", resp.Status)
	}
	if d := time.Since(start); d > catalogTimeout+time.Second {
		t.Errorf("first request took %s, want about %s", d, catalogTimeout)
	}
	start = time.Now()
	for range 20 {
		for _, u := range []string{"/api/files/1", "/t/1.torrent", "/t/" + readyIH + ".torrent", "/feed.rss"} {
			if resp, _ := do(t, "GET", pub.URL+u); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s: %s, want 503 with Retry-After", u, resp.Status)
			}
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("80 requests during the outage took %s: they should fail at once", d)
	}
	cat.mu.Lock()
	calls := cat.calls
	cat.mu.Unlock()
	if calls != 1 {
		t.Errorf("the catalog was asked %d times, want once until the breaker cools", calls)
	}
	if n := strings.Count(logs.b.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one outage, want 1:\n%s", n, logs.b.String())
	}
}

// TestClientHangUpIsNotAnOutage: requests whose clients hang up while the
// catalog is slow log nothing and do not open the breaker.
func TestClientHangUpIsNotAnOutage(t *testing.T) {
	cat := &blackhole{}
	logs := &logLines{}
	cfg := Config{BaseURL: "http://fs.lan:8080", FeedItems: 10, WebSeedMode: WebSeedStandIn}
	pub := httptest.NewServer(NewPublic(cfg, cat, fakeSeeder{root: testRoot, dir: t.TempDir()}, slog.New(slog.NewTextHandler(logs, nil))))
	defer pub.Close()
	client := &http.Client{Timeout: 50 * time.Millisecond}
	const n = 20
	for range n {
		if resp, err := client.Get(pub.URL + "/t/1.torrent"); err == nil {
			resp.Body.Close()
			t.Fatalf("answered %s before the catalog did", resp.Status)
		}
	}
	// The server notices each hang-up shortly after the client.
	deadline := time.Now().Add(2 * time.Second)
	for {
		cat.mu.Lock()
		calls := cat.calls
		cat.mu.Unlock()
		if calls == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog was asked %d times for %d requests: the breaker opened on hang-ups", calls, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if logs.b.Len() > 0 {
		t.Errorf("clients hanging up were logged:\n%s", logs.b.String())
	}
}
