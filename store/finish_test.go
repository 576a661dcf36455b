package store_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// TestFinishTogether records many results at once (grouped in transactions
// on SQLite): each is recorded, or not, as its own generation says, and
// each caller learns which.
func TestFinishTogether(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		const n = 200
		var ids []int64
		for i := range n {
			ids = append(ids, c.insert(t, plain, "f"+itoa(i)+".bin"))
		}
		var wg sync.WaitGroup
		got := make([]bool, n)
		for i, id := range ids {
			r := c.get(t, id)
			gen := r.Generation
			if i%3 == 0 {
				gen-- // stale: must not be recorded
			}
			wg.Go(func() {
				ok, err := c.Finish(ctx, lanseedd.Result{FileID: id, Generation: gen, State: lanseedd.StateReady, InfoHash: "ab"})
				if err != nil {
					t.Errorf("Finish %d: %v", id, err)
				}
				got[i] = ok
			})
		}
		wg.Wait()
		for i, id := range ids {
			want := i%3 != 0
			if got[i] != want {
				t.Errorf("row %d: Finish reported %v, want %v", id, got[i], want)
			}
			if st := c.get(t, id).State; (st == lanseedd.StateReady) != want {
				t.Errorf("row %d: state %s, recorded %v", id, st, want)
			}
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
