package store_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
				ok, err := c.Finish(ctx, lanseedd.Result{FileID: id, Generation: gen, State: lanseedd.StateReady, InfoHash: "ab",
					Name: "n" + itoa(i), Size: int64(i), Magnet: "magnet:?" + itoa(i),
					Fingerprint: lanseedd.Fingerprint{Size: int64(i), MtimeNs: int64(i) << 40, Inode: uint64(i) + 7, Device: 9}})
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
			r := c.get(t, id)
			if (r.State == lanseedd.StateReady) != want {
				t.Errorf("row %d: state %s, recorded %v", id, r.State, want)
			}
			fp := lanseedd.Fingerprint{Size: int64(i), MtimeNs: int64(i) << 40, Inode: uint64(i) + 7, Device: 9}
			if want && (r.Name != "n"+itoa(i) || r.Size != int64(i) || r.Magnet != "magnet:?"+itoa(i) || r.Fingerprint != fp || r.InfoHash != "ab") {
				t.Errorf("row %d recorded as %+v", id, r)
			}
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFinishTogetherRepublishes: results recorded together publish a row
// anew (published_at) only when it gets another torrent, as one by one.
func TestFinishTogetherRepublishes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		ctx := context.Background()
		const n = 60
		var ids []int64
		for i := range n {
			ids = append(ids, c.insert(t, plain, "f"+itoa(i)+".bin"))
		}
		finishAll := func(infohash func(i int) string) {
			var wg sync.WaitGroup
			for i, id := range ids {
				gen := c.get(t, id).Generation
				wg.Go(func() {
					ok, err := c.Finish(ctx, lanseedd.Result{FileID: id, Generation: gen, State: lanseedd.StateReady, InfoHash: infohash(i)})
					if !ok || err != nil {
						t.Errorf("Finish %d: %v %v", id, ok, err)
					}
				})
			}
			wg.Wait()
		}
		finishAll(func(int) string { return strings.Repeat("aa", 20) })
		first := make([]time.Time, n)
		for i, id := range ids {
			if first[i] = c.get(t, id).PublishedAt; first[i].IsZero() {
				t.Fatalf("row %d ready without published_at", id)
			}
		}
		time.Sleep(20 * time.Millisecond)
		// Even rows keep their torrent, odd ones get another.
		finishAll(func(i int) string { return strings.Repeat([]string{"aa", "bb"}[i%2], 20) })
		for i, id := range ids {
			got := c.get(t, id).PublishedAt
			if again := i%2 == 1; again != got.After(first[i]) {
				t.Errorf("row %d (new torrent %v): published at %v, first at %v", id, again, got, first[i])
			}
		}
	})
}

// TestBatchesSkipHeldRows: a row the site's transaction holds is neither
// claimed nor recorded with the others, which go on at once; it is claimed
// and recorded once the site commits.
func TestBatchesSkipHeldRows(t *testing.T) {
	for _, b := range dbtest.Backends {
		if b.Name == "sqlite" {
			continue // one writer at a time: the site's transaction holds every row
		}
		t.Run(b.Name, func(t *testing.T) {
			c := newCatalog(t, b, plain)
			ctx := context.Background()
			held := c.insert(t, plain, "held.bin")
			var others []int64
			for i := range 5 {
				others = append(others, c.insert(t, plain, "o"+itoa(i)+".bin"))
			}
			site, err := c.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer site.Rollback()
			// What the triggers lock when the site edits the row.
			lock := func() {
				t.Helper()
				if _, err := site.Exec(c.Rebind("SELECT file_id FROM lanseedd_torrents WHERE file_id = ? FOR UPDATE"), held); err != nil {
					t.Fatal(err)
				}
			}
			lock()
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			rows, err := c.Work(wctx, 10, nil)
			cancel()
			if err != nil {
				t.Fatalf("Work with a row held by the site: %v", err)
			}
			if got := len(rows); got != len(others) {
				t.Errorf("Work claimed %d rows, want the %d not held", got, len(others))
			}
			for _, r := range rows {
				if r.FileID == held {
					t.Errorf("Work claimed the row the site holds")
				}
			}
			if err := site.Commit(); err != nil {
				t.Fatal(err)
			}
			rows, err = c.Work(ctx, 10, nil)
			if err != nil || !slices.ContainsFunc(rows, func(r lanseedd.Row) bool { return r.FileID == held }) {
				t.Fatalf("Work after the site committed: %+v %v", rows, err)
			}

			// The site holds the row again while its result and the
			// others' are recorded together.
			site, err = c.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer site.Rollback()
			lock()
			heldDone := make(chan bool, 1)
			var wg sync.WaitGroup
			for _, id := range append([]int64{held}, others...) {
				gen := c.get(t, id).Generation
				wg.Go(func() {
					ok, err := c.Finish(ctx, lanseedd.Result{FileID: id, Generation: gen, State: lanseedd.StateReady, InfoHash: strings.Repeat("cd", 20)})
					if !ok || err != nil {
						t.Errorf("Finish %d: %v %v", id, ok, err)
					}
					if id == held {
						heldDone <- true
					}
				})
			}
			deadline := time.Now().Add(5 * time.Second)
			for _, id := range others {
				for c.get(t, id).State != lanseedd.StateReady {
					if time.Now().After(deadline) {
						t.Fatalf("row %d not recorded while the site holds another", id)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			select {
			case <-heldDone:
				t.Fatalf("the held row was recorded while the site held it")
			default:
			}
			if err := site.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if st := c.get(t, held).State; st != lanseedd.StateReady {
				t.Errorf("held row after the site committed: %s", st)
			}
		})
	}
}
