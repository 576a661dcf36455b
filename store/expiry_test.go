package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

// TestExpiresColumnTriggers: on every dialect, the triggers copy the expiry
// column, send an expired row back to pending when only its expiry
// changes, and leave a ready row's generation alone; Expiring and
// Unexpiring see the rows past and no longer past their expiry.
func TestExpiresColumnTriggers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		cfg := store.DefaultConfig()
		cfg.DSN, cfg.ExpiresColumn = b.New(t), "valid_until"
		s, err := store.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ddl := map[string]string{
			"sqlite":   "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL, valid_until TEXT)",
			"postgres": "CREATE TABLE files (id BIGINT PRIMARY KEY, path TEXT NOT NULL, valid_until TIMESTAMPTZ)",
			"mysql":    "CREATE TABLE files (id BIGINT PRIMARY KEY, path VARCHAR(200) NOT NULL, valid_until DATETIME(6) NULL)",
		}[s.Dialect()]
		if s.Dialect() == "sqlite" {
			s.DB().Exec("DROP TABLE files")
		}
		if _, err := s.DB().Exec(ddl); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		at := func(t0 time.Time) any {
			if s.Dialect() == "sqlite" {
				return t0.UTC().Format(time.RFC3339)
			}
			return t0.UTC()
		}
		past, future := time.Now().Add(-time.Hour).Truncate(time.Second), time.Now().Add(time.Hour).Truncate(time.Second)
		if _, err := s.DB().Exec(s.Rebind("INSERT INTO files (id, path, valid_until) VALUES (1, 'a', ?), (2, 'b', NULL)"), at(past)); err != nil {
			t.Fatal(err)
		}
		r1, err := s.Get(ctx, 1)
		if err != nil || !r1.ExpiresAt.Equal(past) {
			t.Fatalf("row 1 expires %v, want %v (%v)", r1.ExpiresAt, past, err)
		}
		for _, r := range []lanseedd.Result{
			{FileID: 1, Generation: r1.Generation, State: lanseedd.StateReady, InfoHash: "aa"},
			{FileID: 2, Generation: 1, State: lanseedd.StateReady, InfoHash: "bb"},
		} {
			if ok, err := s.Finish(ctx, r); !ok || err != nil {
				t.Fatalf("finish %d: %v %v", r.FileID, ok, err)
			}
		}
		exp, err := s.Expiring(ctx, 0)
		if err != nil || len(exp) != 1 || exp[0].FileID != 1 {
			t.Fatalf("expiring: %+v %v", exp, err)
		}
		if r2, _ := s.Get(ctx, 2); r2.PublishedAt.IsZero() {
			t.Errorf("ready row without published_at")
		}
		if exp, _ := s.Expiring(ctx, time.Nanosecond); len(exp) != 2 {
			t.Errorf("expiring by age: %d rows, want 2", len(exp))
		}
		if ok, err := s.Finish(ctx, lanseedd.Result{FileID: 1, Generation: r1.Generation, State: lanseedd.StateExpired, InfoHash: "aa"}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if back, _ := s.Unexpiring(ctx, 0); len(back) != 0 {
			t.Errorf("unexpiring before the expiry moved: %+v", back)
		}
		// The expiry alone changes: an expired row is pending again, a ready
		// row keeps its state and generation.
		if _, err := s.DB().Exec(s.Rebind("UPDATE files SET valid_until = ?"), at(future)); err != nil {
			t.Fatal(err)
		}
		r1b, _ := s.Get(ctx, 1)
		if r1b.State != lanseedd.StatePending || r1b.Generation != r1.Generation+1 || !r1b.ExpiresAt.Equal(future) {
			t.Errorf("expired row after its expiry moved: %s gen %d (was %d) expires %v", r1b.State, r1b.Generation, r1.Generation, r1b.ExpiresAt)
		}
		r2, _ := s.Get(ctx, 2)
		if r2.State != lanseedd.StateReady || r2.Generation != 1 || !r2.ExpiresAt.Equal(future) {
			t.Errorf("ready row after its expiry moved: %s gen %d expires %v", r2.State, r2.Generation, r2.ExpiresAt)
		}
		// Without the column configured, the trigger set changes and resync
		// drops the copied expiries.
		cfg.ExpiresColumn = ""
		s2, err := store.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if err := s2.CheckMigrated(ctx); err == nil {
			t.Errorf("triggers made for an expiry column pass as current without one")
		}
		if err := s2.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if r, _ := s2.Get(ctx, 2); !r.ExpiresAt.IsZero() {
			t.Errorf("expiry kept without an expiry column: %v", r.ExpiresAt)
		}
	})
}
