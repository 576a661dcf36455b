package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

func node(name string) func(*store.Config) { return func(c *store.Config) { c.Node = name } }

// TestCopies runs two nodes' stores on one catalog: a row one made ready
// is the other's to check, read with what the other found of its copy;
// the nodes seeding an infohash, the conflicts and the rows made ready
// since a point come back as recorded, and a forgotten row takes its
// copies with it.
func TestCopies(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		base := newCatalog(t, b, plain)
		a := openCatalog(t, base.dsn, plain, node("a-fs"))
		bb := openCatalog(t, base.dsn, plain, node("b-fs"))
		var ids []int64
		for _, p := range []string{"film.bin", "other.bin", "gone.bin"} {
			ids = append(ids, base.insert(t, plain, p))
		}
		start, startID, err := a.LastChanged(ctx, lanseedd.StateReady)
		if err != nil || !start.IsZero() || startID != 0 {
			t.Fatalf("last readied of a catalog with none: %v %d %v", start, startID, err)
		}
		ih := map[int64]string{}
		for i, id := range ids {
			r, _ := a.Get(ctx, id)
			ih[id] = strings.Repeat(string(rune('a'+i)), 40)
			ok, err := a.Finish(ctx, lanseedd.Result{FileID: id, Generation: r.Generation, State: lanseedd.StateReady,
				InfoHash: ih[id], Name: "n", Size: 1, Fingerprint: lanseedd.Fingerprint{Size: 1, MtimeNs: 7, Inode: 9, Device: 3}})
			if err != nil || !ok {
				t.Fatalf("finish %d: %v %v", id, ok, err)
			}
		}
		// a-fs reads its own rows as they are; b-fs reads them as another's, unchecked.
		if r, _ := a.Get(ctx, ids[0]); r.Node != "a-fs" || r.Foreign || r.Fingerprint.Inode != 9 {
			t.Errorf("a-fs reads its row as %+v", r)
		}
		if r, _ := bb.Get(ctx, ids[0]); r.Node != "a-fs" || !r.Foreign || r.Here != "" || r.Fingerprint != (lanseedd.Fingerprint{}) {
			t.Errorf("b-fs reads a-fs's row as %+v", r)
		}
		readied, err := bb.ChangedSince(ctx, lanseedd.StateReady, time.Time{}, 0, 10)
		if err != nil || len(readied) != 3 || !readied[0].Foreign {
			t.Fatalf("readied since the start: %d rows, %v", len(readied), err)
		}
		last := readied[len(readied)-1]
		if at, id, err := bb.LastChanged(ctx, lanseedd.StateReady); err != nil || id != last.FileID || !at.Equal(last.UpdatedAt) {
			t.Errorf("last readied %v %d %v, want %v %d", at, id, err, last.UpdatedAt, last.FileID)
		}
		if more, err := bb.ChangedSince(ctx, lanseedd.StateReady, last.UpdatedAt, last.FileID, 10); err != nil || len(more) != 0 {
			t.Errorf("readied after the last: %d rows, %v", len(more), err)
		}

		own := lanseedd.Fingerprint{Size: 1, MtimeNs: 8, Inode: 10, Device: 4}
		for _, c := range []lanseedd.Copy{
			{FileID: ids[0], State: lanseedd.CopySeeding, InfoHash: ih[ids[0]], RowInfoHash: ih[ids[0]], Fingerprint: own},
			{FileID: ids[1], State: lanseedd.CopySeeding, InfoHash: ih[ids[1]], RowInfoHash: ih[ids[1]], Fingerprint: own},
			// Recorded again: the last record stands.
			{FileID: ids[1], State: lanseedd.CopyConflict, InfoHash: strings.Repeat("f", 40), RowInfoHash: ih[ids[1]], Error: "other bytes"},
			{FileID: ids[2], State: lanseedd.CopyMissing, RowInfoHash: ih[ids[2]], Error: "no file"},
		} {
			if err := bb.RecordCopy(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if r, _ := bb.Get(ctx, ids[0]); !r.Foreign || r.Here != lanseedd.CopySeeding || r.Fingerprint != own {
			t.Errorf("b-fs reads the row it seeds as %+v", r)
		}
		rows, err := bb.Scan(ctx, 0, 10, lanseedd.StateReady)
		if err != nil || len(rows) != 3 || rows[1].Here != lanseedd.CopyConflict || rows[2].Here != lanseedd.CopyMissing {
			t.Errorf("b-fs scans %+v, %v", rows, err)
		}
		seeding := func(id int64) []string {
			t.Helper()
			n, err := a.SeedingNodes(ctx, strings.ToUpper(ih[id]))
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(n)
			return n
		}
		if got := seeding(ids[0]); !slices.Equal(got, []string{"a-fs", "b-fs"}) {
			t.Errorf("nodes seeding film.bin: %q", got)
		}
		if got := seeding(ids[1]); !slices.Equal(got, []string{"a-fs"}) {
			t.Errorf("nodes seeding other.bin: %q", got)
		}
		cs, total, err := a.Conflicts(ctx, 10)
		if err != nil || total != 1 || len(cs) != 1 || cs[0].FileID != ids[1] || cs[0].Node != "b-fs" ||
			cs[0].Path != "other.bin" || cs[0].Error != "other bytes" {
			t.Errorf("conflicts %+v (%d in all), %v", cs, total, err)
		}

		// A row made ready again with another torrent: b-fs's record is
		// of the old one, so the row is unchecked again and its conflict
		// gone from the list.
		base.mustExec(t, "UPDATE files SET path = ? WHERE id = ?", "other2.bin", ids[1])
		r, _ := a.Get(ctx, ids[1])
		if _, err := a.Finish(ctx, lanseedd.Result{FileID: ids[1], Generation: r.Generation, State: lanseedd.StateReady,
			InfoHash: strings.Repeat("e", 40), Name: "n", Size: 1}); err != nil {
			t.Fatal(err)
		}
		if r, _ := bb.Get(ctx, ids[1]); !r.Foreign || r.Here != "" {
			t.Errorf("after a new torrent b-fs reads %+v", r)
		}
		if _, total, _ := a.Conflicts(ctx, 10); total != 0 {
			t.Errorf("%d conflicts of a torrent the row no longer has", total)
		}

		// A deleted row takes the copies with it.
		base.mustExec(t, "DELETE FROM files WHERE id = ?", ids[0])
		r, _ = a.Get(ctx, ids[0])
		if ok, err := a.Forget(ctx, ids[0], r.Generation); err != nil || !ok {
			t.Fatalf("forget: %v %v", ok, err)
		}
		if cs, err := a.Copies(ctx, ids[0]); err != nil || len(cs) != 0 {
			t.Errorf("copies of a forgotten row: %+v %v", cs, err)
		}
		if cs, err := a.Copies(ctx, ids[2]); err != nil || len(cs) != 1 || cs[0].State != lanseedd.CopyMissing {
			t.Errorf("copies of gone.bin: %+v %v", cs, err)
		}
	})
}
