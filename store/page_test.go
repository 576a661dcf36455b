package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

func TestPageAfterAndCount(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		var all []int64
		for i := range 7 {
			id := c.insert(t, plain, fmt.Sprintf("dir/f%d.bin", i))
			all = append(all, id)
			if i%2 == 0 {
				c.finish(t, id)
			}
		}
		ids := func(rows []lanseedd.Row) []int64 {
			var out []int64
			for _, r := range rows {
				out = append(out, r.FileID)
			}
			return out
		}
		// Pages after a file id walk the rows as pages from offsets do.
		var walked []int64
		q := store.Query{Limit: 3}
		for {
			rows, err := c.Page(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			byOffset, err := c.Page(ctx, store.Query{Limit: 3, Offset: len(walked)})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(rows), ids(byOffset)) {
				t.Errorf("page after %d: %v, from offset %d: %v", q.After, ids(rows), len(walked), ids(byOffset))
			}
			walked = append(walked, ids(rows)...)
			if len(rows) < q.Limit {
				break
			}
			q.After = rows[len(rows)-1].FileID
		}
		if !slices.Equal(walked, all) {
			t.Errorf("walk by after: %v, want %v", walked, all)
		}
		// After applies with the other conditions; Offset is ignored.
		rows, err := c.Page(ctx, store.Query{States: []lanseedd.State{lanseedd.StateReady}, Search: "F", After: all[2], Offset: 5, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{all[4], all[6]}; !slices.Equal(ids(rows), want) {
			t.Errorf("ready rows matching f after %d: %v, want %v", all[2], ids(rows), want)
		}
		if _, err := c.Page(ctx, store.Query{Newest: true, After: 1}); !errors.Is(err, store.ErrNewestAfter) {
			t.Errorf("Page with Newest and After: %v, want ErrNewestAfter", err)
		}

		for _, tc := range []struct {
			q    store.Query
			want int64
		}{
			{store.Query{}, 7},
			{store.Query{States: []lanseedd.State{lanseedd.StateReady}}, 4},
			{store.Query{Search: "f1", After: all[5], Limit: 1}, 1},
			{store.Query{States: []lanseedd.State{lanseedd.StatePending}, Search: "dir/"}, 3},
		} {
			if n, err := c.Count(ctx, tc.q); n != tc.want || err != nil {
				t.Errorf("Count(%+v) = %d, %v; want %d", tc.q, n, err, tc.want)
			}
		}
	})
}
