package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

func TestScanWalksInPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		var all, ready []int64
		for i := range 7 {
			id := c.insert(t, plain, fmt.Sprintf("f%d.bin", i))
			all = append(all, id)
			if i%2 == 0 {
				c.finish(t, id)
				ready = append(ready, id)
			}
		}
		walk := func(limit int, states ...lanseedd.State) (ids []int64, pages int) {
			var after int64
			for {
				rows, err := c.Scan(ctx, after, limit, states...)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, r := range rows {
					if len(states) > 0 && !slices.Contains(states, r.State) {
						t.Errorf("row %d is %s, not in %v", r.FileID, r.State, states)
					}
					ids = append(ids, r.FileID)
				}
				if len(rows) < limit {
					return ids, pages
				}
				after = rows[len(rows)-1].FileID
			}
		}
		if ids, pages := walk(3); !slices.Equal(ids, all) || pages != 3 {
			t.Errorf("walk of all rows by 3: %v in %d pages, want %v in 3", ids, pages, all)
		}
		if ids, _ := walk(2, lanseedd.StateReady); !slices.Equal(ids, ready) {
			t.Errorf("walk of ready rows: %v, want %v", ids, ready)
		}
		if ids, _ := walk(100, lanseedd.StatePending, lanseedd.StateReady); !slices.Equal(ids, all) {
			t.Errorf("walk of pending and ready rows: %v, want %v", ids, all)
		}
		if rows, err := c.Scan(ctx, all[len(all)-1], 10); err != nil || len(rows) != 0 {
			t.Errorf("Scan past the last row: %d rows, %v", len(rows), err)
		}
		if _, err := c.Scan(ctx, 0, 0); err == nil {
			t.Error("Scan with limit 0 succeeded")
		}
	})
}

func TestStatesOfABatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		pending := c.insert(t, plain, "a.bin")
		ready := c.insert(t, plain, "b.bin")
		c.finish(t, ready)
		gone := c.insert(t, plain, "c.bin")
		c.mustExec(t, "DELETE FROM files WHERE id = ?", gone)

		// More ids than one query takes, most of them absent.
		ids := []int64{pending, ready, gone}
		for i := range int64(2500) {
			ids = append(ids, 1_000_000+i)
		}
		got, err := c.States(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]lanseedd.State{pending: lanseedd.StatePending, ready: lanseedd.StateReady, gone: lanseedd.StateDeleted}
		if len(got) != len(want) {
			t.Errorf("States = %v, want %v", got, want)
		}
		for id, st := range want {
			if got[id] != st {
				t.Errorf("row %d: %q, want %q", id, got[id], st)
			}
		}
		if got, err := c.States(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("States(nil) = %v, %v", got, err)
		}
	})
}
