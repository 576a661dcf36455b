package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// TestNodes runs two daemons' stores on one catalog: each records its
// heartbeat, sees the other, loses it when it leaves or stops beating,
// and a second process under a taken name is reported.
func TestNodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		ctx := context.Background()
		a := newCatalog(t, b, plain)
		bb := openCatalog(t, a.dsn, plain)
		na := lanseedd.Node{Name: "fs1", PublicURL: "http://fs1.lan:8080", Version: "v1",
			Trackers: []string{"http://fs1.lan:6969/announce", "udp://fs1.lan:6969/announce"}, Peers: []string{"10.0.0.1:6881"}}
		nb := lanseedd.Node{Name: "fs2", PublicURL: "http://fs2.lan:8080", Version: "v1",
			Trackers: []string{"http://fs2.lan:6969/announce"}, Peers: []string{"10.0.0.2:6881", "[fd00::2]:6881"}}
		for _, beat := range []struct {
			c *catalog
			n lanseedd.Node
		}{{a, na}, {bb, nb}, {a, na}} {
			if took, err := beat.c.Heartbeat(ctx, beat.n); err != nil || took {
				t.Fatalf("heartbeat of %s: took %v, %v", beat.n.Name, took, err)
			}
		}
		nodes := func(timeout time.Duration) map[string]lanseedd.Node {
			t.Helper()
			all, err := bb.Nodes(ctx, timeout)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]lanseedd.Node{}
			var names []string
			for _, n := range all {
				m[n.Name] = n
				names = append(names, n.Name)
			}
			if !slices.IsSorted(names) {
				t.Errorf("nodes not in name order: %q", names)
			}
			return m
		}
		got := nodes(time.Minute)
		if len(got) != 2 || !got["fs1"].Up || !got["fs2"].Up {
			t.Fatalf("nodes %+v, want fs1 and fs2 up", got)
		}
		g := got["fs2"]
		if !slices.Equal(g.Trackers, nb.Trackers) || !slices.Equal(g.Peers, nb.Peers) || g.PublicURL != nb.PublicURL ||
			g.Version != "v1" || g.StartedAt.IsZero() || g.HeartbeatAgeSec < 0 || g.HeartbeatAgeSec > 30 {
			t.Errorf("fs2 read back as %+v, recorded %+v", g, nb)
		}

		// A heartbeat older than the timeout is a node down.
		time.Sleep(50 * time.Millisecond)
		if got := nodes(10 * time.Millisecond); got["fs1"].Up || got["fs2"].Up || got["fs1"].HeartbeatAt.IsZero() {
			t.Errorf("heartbeats 50ms old with a 10ms timeout: %+v", got)
		}

		// A node that leaves is down at once, its row kept.
		if err := a.LeaveNode(ctx, "fs1"); err != nil {
			t.Fatal(err)
		}
		if got := nodes(time.Minute); got["fs1"].Up || !got["fs1"].HeartbeatAt.IsZero() || !got["fs2"].Up {
			t.Errorf("after fs1 left: %+v", got)
		}
		if took, err := a.Heartbeat(ctx, na); err != nil || took {
			t.Fatalf("heartbeat after leaving: took %v, %v", took, err)
		}
		if got := nodes(time.Minute); !got["fs1"].Up {
			t.Errorf("fs1 back: %+v", got["fs1"])
		}

		// Another running process under fs1's name takes it, and says so.
		c := openCatalog(t, a.dsn, plain)
		if took, err := c.Heartbeat(ctx, na); err != nil || !took {
			t.Errorf("a second process named fs1: took %v, %v; want it reported", took, err)
		}
		if took, err := a.Heartbeat(ctx, na); err != nil || !took {
			t.Errorf("the first process named fs1 again: took %v, %v; want it reported", took, err)
		}

		if ok, err := bb.ForgetNode(ctx, "fs1"); err != nil || !ok {
			t.Fatalf("forget fs1: %v %v", ok, err)
		}
		if got := nodes(time.Minute); len(got) != 1 {
			t.Errorf("after forgetting fs1: %+v", got)
		}
	})
}
