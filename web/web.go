// Package web is lanseedd's HTTP front: the public listener (.torrent links,
// file API, RSS feed, web seeds) and the admin listener (status page, JSON
// API, metrics, health).
package web

import (
	"context"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
	"github.com/lanseedd/lanseedd/tracker"
)

// Catalog is what the front reads of lanseedd's state table.
type Catalog interface {
	Get(ctx context.Context, fileID int64) (lanseedd.Row, error)
	GetByInfoHash(ctx context.Context, infohash string) (lanseedd.Row, error)
	Page(ctx context.Context, q store.Query) ([]lanseedd.Row, error)
	Count(ctx context.Context, q store.Query) (int64, error)
	Counts(ctx context.Context) (map[lanseedd.State]int64, error)
	OldestPending(ctx context.Context) (time.Time, bool, error)
	Ping(ctx context.Context) error
	// Copies are the nodes' records of their copies of rows; Conflicts
	// the newest copies that differ from their row, and their number.
	Copies(ctx context.Context, ids ...int64) ([]lanseedd.Copy, error)
	Conflicts(ctx context.Context, limit int) ([]lanseedd.Copy, int64, error)
}

// Seeder locates torrents and content and reports seeding figures.
type Seeder interface {
	// TorrentFile is the path of a row's .torrent.
	TorrentFile(fileID int64) string
	// ContentRoot is the resolved content root.
	ContentRoot() string
	// Stats are the client's totals.
	Stats() lanseedd.SeederStats
	// TorrentStats are one torrent's figures; ok is false if it is not
	// loaded.
	TorrentStats(infohash [20]byte) (s lanseedd.TorrentStats, ok bool)
	// OnDemand reports whether every ready row is seeded, loaded or not
	// (seeder.load: demand).
	OnDemand() bool
	// Problem says why the seeder cannot make new torrents (its state
	// directory cannot be written), nil when it can.
	Problem() error
	// Seeded and SeededRow tell, from the seeder's own state, what row
	// fileID is seeded as and which row infohash is seeded for: links
	// are served from them while the catalog is unreachable.
	Seeded(fileID int64) (infohash [20]byte, ok bool)
	SeededRow(infohash [20]byte) (fileID int64, ok bool)
	// Trackers are the announce tiers torrents and magnets are served
	// with: the trackers of the nodes up, then the extra trackers.
	Trackers() [][]string
}

// Tracker reports swarm figures.
type Tracker interface {
	Stats() tracker.Stats
	Swarm(infohash [20]byte) (tracker.SwarmStats, bool)
}
