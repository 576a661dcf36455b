package main

import (
	"context"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/tracker"
)

// nodes keeps this daemon's row of lanseedd_nodes up to date and the
// torrents' trackers in step with the nodes that are up.
type nodes struct {
	m    *Main
	self lanseedd.Node

	mu   sync.Mutex
	up   map[string]bool // by name, as of the last read
	last []lanseedd.Node
	// others are the seeders of the other nodes up, by name; seeding
	// remembers for a while which nodes seed an infohash.
	others  map[string]tracker.Seeder
	seeding map[[20]byte]seedingNodes
	// failing is set while heartbeats fail, so that the failure is
	// logged once, and its end.
	failing bool
	left    atomic.Bool
}

// beat records a heartbeat and reads the nodes, setting the trackers the
// torrents are served with: one tier per node up, in name order, so that
// every node serves the same list and clients meet on the first tracker
// that answers. This node is listed whatever the catalog says: it serves.
func (n *nodes) beat(ctx context.Context) {
	cfg := n.m.Config.Node
	ctx, cancel := context.WithTimeout(ctx, cfg.Heartbeat)
	defer cancel()
	took, err := n.m.Store.Heartbeat(ctx, n.self)
	var all []lanseedd.Node
	if err == nil {
		all, err = n.m.Store.Nodes(ctx, cfg.Timeout)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		if !n.failing {
			n.m.Log.Warn("cannot record this node's heartbeat; torrents keep the trackers last seen up",
				"node", n.self.Name, "err", err)
		}
		n.failing = true
		return
	}
	if n.failing {
		n.m.Log.Info("node heartbeat recorded again", "node", n.self.Name)
		n.failing = false
	}
	if took {
		n.m.Log.Warn("another daemon runs with this node name; each daemon on one catalog needs its own node.name",
			"node", n.self.Name)
	}
	up := make(map[string]bool)
	for _, o := range all {
		if o.Up {
			up[o.Name] = true
		}
		if o.Name == n.self.Name {
			continue
		}
		switch was, known := n.up[o.Name]; {
		case o.Up && (!known || !was):
			n.m.Log.Info("node up", "node", o.Name, "trackers", o.Trackers, "peers", o.Peers)
		case !o.Up && known && was && o.HeartbeatAt.IsZero():
			n.m.Log.Info("node stopped", "node", o.Name)
		case !o.Up && known && was:
			n.m.Log.Warn("node down", "node", o.Name, "last_heartbeat", o.HeartbeatAt,
				"hint", "its tracker leaves the torrents served; .torrent files already fetched keep the other trackers")
		}
	}
	n.up, n.last = up, all
	others := make(map[string]tracker.Seeder)
	var since time.Time // when the first of the others up started
	for _, o := range all {
		if o.Up && o.Name != n.self.Name {
			others[o.Name] = seederOf(o)
			if since.IsZero() || o.StartedAt.Before(since) {
				since = o.StartedAt
			}
		}
	}
	n.others = others
	n.m.Seeder.SetTrackers(nodeTiers(all, n.self))
	n.m.Seeder.SetOthersUp(since)
	if len(others) > 0 {
		// The catalog wakes a node for work (pending rows, tombstones),
		// not for the rows other nodes make ready: each heartbeat looks
		// at those, so a node checks (or a mirror fetches) a row within
		// node.heartbeat of its publication.
		n.m.Seeder.Wake()
	}
}

// seederOf reads a node's seeder addresses and peer id.
func seederOf(o lanseedd.Node) tracker.Seeder {
	var sd tracker.Seeder
	for _, p := range o.Peers {
		if a, err := netip.ParseAddrPort(p); err == nil {
			sd.Addrs = append(sd.Addrs, a)
		}
	}
	hex.Decode(sd.PeerID[:], []byte(o.PeerID))
	return sd
}

// seedingNodes are the nodes found seeding an infohash, and when.
type seedingNodes struct {
	names []string
	at    time.Time
}

// seedingTTL is how long the nodes seeding an infohash are remembered.
const seedingTTL = 30 * time.Second

// seeders returns the seeders of the other nodes up that seed ih, for the
// tracker: whichever node's tracker a client announces to lists every
// node's seeder. With no other node up it reads nothing.
func (n *nodes) seeders(ih [20]byte) []tracker.Seeder {
	n.mu.Lock()
	others := n.others
	cached, ok := n.seeding[ih]
	n.mu.Unlock()
	if len(others) == 0 {
		return nil
	}
	if !ok || time.Since(cached.at) > seedingTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		names, err := n.m.Store.SeedingNodes(ctx, hex.EncodeToString(ih[:]))
		cancel()
		if err != nil {
			names = cached.names // the catalog is unreachable: as last known
		}
		cached = seedingNodes{names: names, at: time.Now()}
		n.mu.Lock()
		if len(n.seeding) >= 1<<16 {
			clear(n.seeding)
		}
		n.seeding[ih] = cached
		n.mu.Unlock()
	}
	var out []tracker.Seeder
	for _, name := range cached.names {
		if sd, ok := others[name]; ok && len(sd.Addrs) > 0 {
			out = append(out, sd)
		}
	}
	return out
}

// run beats every node.heartbeat until ctx is done.
func (n *nodes) run(ctx context.Context) error {
	tick := time.NewTicker(n.m.Config.Node.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			n.beat(ctx)
		}
	}
}

// leave clears the heartbeat as the daemon stops, once.
func (n *nodes) leave(ctx context.Context) {
	if n.left.Swap(true) {
		return
	}
	if err := n.m.Store.LeaveNode(ctx, n.self.Name); err != nil {
		n.m.Log.Warn("cannot record that this node stops; the others see it down after node.timeout", "err", err)
	}
}

// list returns the nodes as last read.
func (n *nodes) list() []lanseedd.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.last)
}

// nodeTiers are the announce tiers of the nodes up, in name order, self
// among them.
func nodeTiers(all []lanseedd.Node, self lanseedd.Node) [][]string {
	up := []lanseedd.Node{self}
	for _, o := range all {
		if o.Up && o.Name != self.Name {
			up = append(up, o)
		}
	}
	slices.SortFunc(up, func(a, b lanseedd.Node) int { return strings.Compare(a.Name, b.Name) })
	tiers := make([][]string, 0, len(up))
	for _, o := range up {
		if len(o.Trackers) > 0 {
			tiers = append(tiers, o.Trackers)
		}
	}
	return tiers
}
