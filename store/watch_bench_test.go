package store

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// BenchmarkIdlePoll measures what watching an idle catalog costs per check:
// the poll query on SQLite and MySQL (run every PollInterval), the ping of
// the listening connection on PostgreSQL (run every 10s of silence).
//
//	go test ./store -run '^$' -bench IdlePoll
func BenchmarkIdlePoll(b *testing.B) {
	for _, be := range dbtest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.DSN = be.New(b)
			s, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if s.Dialect() != "sqlite" {
				q := "CREATE TABLE files (id BIGINT PRIMARY KEY, path TEXT)"
				if _, err := s.db.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			if s.Dialect() == "postgres" {
				conn, err := pgx.ConnectConfig(ctx, s.t.pg.Copy())
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close(ctx)
				for b.Loop() {
					if err := conn.Ping(ctx); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			conn, err := s.db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			for b.Loop() {
				if _, _, err := s.pollOnce(ctx, conn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
