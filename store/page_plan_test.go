package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// TestNewestPagesReadAnIndex checks that the newest rows of a state (the
// feed, the public page, the status page's rows needing attention) are read
// in order from an index, not sorted: at a million rows a sort costs
// seconds.
func TestNewestPagesReadAnIndex(t *testing.T) {
	for _, be := range dbtest.Backends[:2] {
		t.Run(be.Name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DSN = be.New(t)
			s, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if s.Dialect() != "sqlite" {
				if _, err := s.db.ExecContext(ctx, "CREATE TABLE files (id BIGINT PRIMARY KEY, path TEXT)"); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			sel, args, err := Query{States: []lanseedd.State{lanseedd.StateReady}, Newest: true, Limit: 50}.pageQuery()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := s.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			explain := "EXPLAIN QUERY PLAN "
			if s.Dialect() == "postgres" {
				// An empty table is read whole by choice; say that it is
				// big, to see the plan it would get.
				if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
				explain = "EXPLAIN "
			}
			rows, err := conn.QueryContext(ctx, explain+s.d.rebind(sel), args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			var plan []string
			for rows.Next() {
				dest := make([]any, len(cols))
				for i := range dest {
					dest[i] = new(any)
				}
				if err := rows.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, fmt.Sprint(*dest[len(dest)-1].(*any)))
			}
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "lanseedd_torrents_newest") || strings.Contains(text, "TEMP B-TREE") || strings.Contains(text, "Sort") {
				t.Errorf("the newest ready rows are not read in order from lanseedd_torrents_newest:\n%s", text)
			}
		})
	}
}
