package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

// TestTwoDaemonsNeverHoldOneRow runs two stores on one catalog, each working
// rows as a daemon does (claim, work with no lock held, record), and checks
// that no row is worked on by both at once and each is recorded once.
func TestTwoDaemonsNeverHoldOneRow(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		a := newCatalog(t, b, plain)
		bb := openCatalog(t, a.dsn, plain)
		const rows = 60
		for i := range rows {
			a.insert(t, plain, fmt.Sprintf("f%02d.bin", i))
		}
		ctx := context.Background()
		var (
			mu       sync.Mutex
			holder   = map[int64]string{}
			recorded = map[int64]int{}
			worked   = map[string]int{}
		)
		work := func(name string, st *catalog) {
			for idle := 0; idle < 20; {
				got, err := st.Work(ctx, 4, nil)
				if err != nil {
					t.Errorf("%s: Work: %v", name, err)
					return
				}
				if len(got) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				idle = 0
				for _, r := range got {
					mu.Lock()
					if h, ok := holder[r.FileID]; ok {
						t.Errorf("row %d claimed by %s while %s works on it", r.FileID, name, h)
					}
					holder[r.FileID] = name
					worked[name]++
					mu.Unlock()
					time.Sleep(time.Millisecond) // hashing
					mu.Lock()
					delete(holder, r.FileID)
					mu.Unlock()
					ok, err := st.Finish(ctx, lanseedd.Result{FileID: r.FileID, Generation: r.Generation, State: lanseedd.StateReady})
					if err != nil {
						t.Errorf("%s: Finish: %v", name, err)
					}
					if ok {
						mu.Lock()
						recorded[r.FileID]++
						mu.Unlock()
					}
				}
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() { work("A", a) })
		wg.Go(func() { work("B", bb) })
		wg.Wait()
		if len(recorded) != rows {
			t.Errorf("%d rows recorded, want %d", len(recorded), rows)
		}
		for id, n := range recorded {
			if n != 1 {
				t.Errorf("row %d recorded %d times", id, n)
			}
		}
		t.Logf("rows worked: %v", worked)
	})
}

func TestClaimLeaseAndRelease(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		a := newCatalog(t, b, plain)
		short := openCatalog(t, a.dsn, plain, func(c *store.Config) { c.ClaimLease = time.Second })
		other := openCatalog(t, a.dsn, plain)
		id1 := a.insert(t, plain, "1.bin")
		id2 := a.insert(t, plain, "2.bin")

		claim := func(st *catalog) []int64 {
			t.Helper()
			rows, err := st.Work(ctx, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range rows {
				ids = append(ids, r.FileID)
			}
			return ids
		}
		if got := claim(short); len(got) != 2 {
			t.Fatalf("first daemon claimed %v, want both rows", got)
		}
		if got := claim(short); len(got) != 2 {
			t.Errorf("Work again returned %v, want the rows it holds", got)
		}
		if rows, err := short.Work(ctx, 10, []int64{id1}); err != nil || len(rows) != 1 || rows[0].FileID != id2 {
			t.Errorf("Work with row %d busy returned %+v, %v; want the other row it holds", id1, rows, err)
		}
		if got := claim(other); len(got) != 0 {
			t.Fatalf("second daemon claimed %v while the first holds them", got)
		}
		// The first daemon dies: its lease runs out and the rows move on.
		time.Sleep(1100 * time.Millisecond)
		if got := claim(other); len(got) != 2 {
			t.Fatalf("after the lease: second daemon claimed %v, want both", got)
		}
		// Close gives claims back at once.
		other.Close()
		if got := claim(a); len(got) != 2 {
			t.Fatalf("after Close: claimed %v, want both", got)
		}
		// Finish releases; a later change is work for anyone.
		a.finish(t, id1)
		a.mustExec(t, "UPDATE files SET path = 'moved' WHERE id = ?", id1)
		if got := claim(short); len(got) != 1 || got[0] != id1 {
			t.Errorf("after Finish and a change: claimed %v, want [%d]", got, id1)
		}
		// A trigger that fires while a row is held keeps it with its
		// holder, who records nothing stale and redoes it.
		held := a.get(t, id2)
		a.mustExec(t, "UPDATE files SET path = 'again' WHERE id = ?", id2)
		if ok, _ := a.Finish(ctx, lanseedd.Result{FileID: id2, Generation: held.Generation, State: lanseedd.StateReady}); ok {
			t.Error("stale result recorded")
		}
		rows, err := a.Work(ctx, 10, nil)
		if err != nil || len(rows) != 1 || rows[0].Path != "again" {
			t.Errorf("holder's next Work = %+v, %v; want the row at its new path", rows, err)
		}
	})
}

// TestDeadDaemonsClaimsReleased: a daemon killed on this host (its process
// gone) leaves claims that the next daemon on the host takes back at once,
// not after the lease.
func TestDeadDaemonsClaimsReleased(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		a := newCatalog(t, b, plain)
		id := a.insert(t, plain, "1.bin")
		host, _ := os.Hostname()
		// A pid above the kernel's maximum names no process; a live pid
		// (ours) keeps its claims.
		for _, c := range []struct {
			owner string
			want  int
		}{{host + "/" + strconv.Itoa(os.Getpid()) + "/aaaa", 0}, {host + "/99999999/bbbb", 1}} {
			until := any(time.Now().Add(time.Hour).UTC())
			if b.Name == "sqlite" {
				until = time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
			}
			a.mustExec(t, "UPDATE lanseedd_torrents SET claimed_by = ?, claimed_until = ? WHERE file_id = ?",
				c.owner, until, id)
			next := openCatalog(t, a.dsn, plain)
			rows, err := next.Work(ctx, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != c.want {
				t.Errorf("claims of %s: the next daemon got %d rows, want %d", c.owner, len(rows), c.want)
			}
			next.Close()
		}
	})
}
