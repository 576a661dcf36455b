// Package lanseedd holds the domain types shared by the catalog store, the
// seeder and the HTTP front: one catalog row's torrent state and its life cycle.
package lanseedd

import (
	"errors"
	"time"
)

// State is where one catalog row stands in its life as a torrent.
type State string

// The states a row of lanseedd_torrents can be in. The catalog site reads
// them, so their spelling is part of lanseedd's interface.
const (
	// StatePending: the row changed (or its file did) and waits to be hashed.
	StatePending State = "pending"
	// StateReady: the torrent is written, seeded and announced.
	StateReady State = "ready"
	// StateMissing: the path names no file (yet); it is picked up when one appears.
	StateMissing State = "missing"
	// StateError: the row cannot be served as it is (see Error); an admin must act.
	StateError State = "error"
	// StateDeleted is the tombstone left by a catalog DELETE until the daemon
	// has dropped the torrent.
	StateDeleted State = "deleted"
	// StateExpired: the row is past its expiry (publish.max_age or the
	// catalog's expiry column); its torrent is withdrawn. The catalog row
	// stays; the torrent comes back if the expiry moves into the future.
	StateExpired State = "expired"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateReady, StateMissing, StateError, StateDeleted, StateExpired:
		return true
	}
	return false
}

// ErrNotFound is returned when a catalog row or torrent does not exist.
var ErrNotFound = errors.New("not found")

// Fingerprint identifies a file's content cheaply, without reading it. An
// unchanged fingerprint lets a restart skip re-hashing.
type Fingerprint struct {
	Size    int64
	MtimeNs int64
	Inode   uint64
	Device  uint64
}

// Row is lanseedd's state for one catalog row.
type Row struct {
	FileID int64
	// Path is the catalog's path, relative to the content root.
	Path  string
	State State
	// Generation grows with every change of the row; results are recorded only
	// against the generation their work started from.
	Generation int64
	// InfoHash is 40 lowercase hex characters once the row has been ready.
	InfoHash string
	// Name is the torrent's name (the file or directory's base name).
	Name        string
	Size        int64
	Error       string
	Fingerprint Fingerprint
	UpdatedAt   time.Time
	// Magnet is the ready torrent's magnet link.
	Magnet string
	// ExpiresAt is the expiry the catalog's expiry column gives the row;
	// zero for none.
	ExpiresAt time.Time
	// PublishedAt is when the row's current torrent was first made ready;
	// zero until then. publish.max_age counts from it.
	PublishedAt time.Time
	// Node is the node whose copy the infohash and fingerprint are of:
	// the one that hashed it; "" for rows made before nodes were
	// recorded, which are every node's own.
	Node string
	// Foreign is set, as the store reads a ready row for a node, when
	// another node hashed it. Here is then what this node found of its
	// own copy of the row's bytes ("" until it checks them), and
	// Fingerprint is its copy's as it was then (zero until it checks).
	Foreign bool
	Here    CopyState
}

// Result is the outcome of working on one row, recorded only if the row is
// still at Generation.
type Result struct {
	FileID      int64
	Generation  int64
	State       State
	InfoHash    string
	Name        string
	Size        int64
	Error       string
	Magnet      string
	Fingerprint Fingerprint
}

// SeederStats are the seeding client's totals. The JSON names are those of
// the admin listener's /api/stats: snake_case, with the unit in numeric names.
type SeederStats struct {
	Torrents      int   `json:"torrents"`
	Peers         int   `json:"peers"`
	UploadedBytes int64 `json:"uploaded_bytes"`
	// ConnectionsTCP and ConnectionsUTP count the peer connections made
	// since start (handshake completed), by transport.
	ConnectionsTCP int64 `json:"connections_tcp"`
	ConnectionsUTP int64 `json:"connections_utp"`
	// HashedBytes and HashSeconds count the hashing work since start.
	HashedBytes int64   `json:"hashed_bytes"`
	HashSeconds float64 `json:"hash_seconds"`
	// UploadRate and DownloadRate are the limits in bytes per second, 0 for none.
	UploadRate   int64 `json:"upload_rate_bytes_per_second"`
	DownloadRate int64 `json:"download_rate_bytes_per_second"`
	// StateDirError says why .torrent files cannot be written to the state
	// directory (full, read-only…); empty while they can.
	StateDirError string `json:"state_dir_error,omitempty"`
	// Load is the load mode (demand or eager); Torrents are the torrents
	// loaded in the client, MaxLoaded their cap in demand mode.
	Load      string `json:"load"`
	MaxLoaded int    `json:"max_loaded"`
	// Activations count torrents loaded for a peer (an announce or a
	// connection), ActivationFailures those that could not be; Unloads
	// count torrents unloaded after the quiet time, Evictions those
	// unloaded because MaxLoaded was reached.
	Activations        int64 `json:"activations"`
	ActivationFailures int64 `json:"activation_failures"`
	Unloads            int64 `json:"unloads"`
	Evictions          int64 `json:"evictions"`
	// ActivationSeconds is the distribution of activation latencies.
	ActivationSeconds Histogram `json:"activation_seconds"`
	// Sweep are the figures of the last sweep of ready rows' files.
	Sweep SweepStats `json:"last_sweep"`
	// MirrorFetchedBytes counts what a mirror node fetched into its
	// mirror root since start; MirrorNoRoom is set while its free-space
	// floor stops fetches.
	MirrorFetchedBytes int64 `json:"mirror_fetched_bytes"`
	MirrorNoRoom       bool  `json:"mirror_no_room,omitempty"`
}

// Histogram is a distribution of values: cumulative counts per upper bound.
type Histogram struct {
	Count   uint64   `json:"count"`
	Sum     float64  `json:"sum"`
	Buckets []Bucket `json:"buckets"`
}

// Bucket counts the values up to LE.
type Bucket struct {
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// SweepStats are the figures of a sweep: every ready row not loaded has its
// files stat'ed (nothing read), and those that changed are rehashed.
type SweepStats struct {
	Rows     int64     `json:"rows"`
	Requeued int64     `json:"requeued"`
	Seconds  float64   `json:"seconds"`
	At       time.Time `json:"at"`
}

// TorrentStats are one seeded torrent's figures.
type TorrentStats struct {
	Peers         int   `json:"peers"`
	UploadedBytes int64 `json:"uploaded_bytes"`
}

// Node is one daemon of those sharing a catalog, each with its own content
// root, tracker and seeder, as its row in lanseedd_nodes says. The JSON
// names are those of the admin API and `lanseedd status --json`.
type Node struct {
	Name      string `json:"name"`
	PublicURL string `json:"public_url"`
	// Trackers are its tracker's announce URLs (HTTP, then UDP): one tier
	// of the torrents' announce lists.
	Trackers []string `json:"trackers"`
	// Peers are its seeder's addresses as peers reach them (IP:port),
	// PeerID its peer id in hex.
	Peers     []string  `json:"peers"`
	PeerID    string    `json:"peer_id"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	// HeartbeatAt is its last heartbeat, zero once it stopped cleanly.
	HeartbeatAt time.Time `json:"heartbeat_at,omitzero"`
	// Up says whether the heartbeat is recent, by the catalog's clock;
	// HeartbeatAge is how long ago it was.
	Up              bool    `json:"up"`
	HeartbeatAgeSec float64 `json:"heartbeat_age_seconds"`
}

// CopyState is what a node found of its own copy of a row that another
// node made ready.
type CopyState string

// The states of a node's copy, as lanseedd_node_rows spells them.
const (
	// CopySeeding: the node's copy is the row's bytes; it seeds them.
	CopySeeding CopyState = "seeding"
	// CopyConflict: the node's copy is other bytes under the row's path
	// (InfoHash is theirs). The row keeps its infohash; an admin decides.
	CopyConflict CopyState = "conflict"
	// CopyMissing: the node has no file at the row's path.
	CopyMissing CopyState = "missing"
	// CopyError: the node's copy cannot be read or served (see Error).
	CopyError CopyState = "error"
)

// Copy is one node's record of its copy of a row.
type Copy struct {
	FileID int64 `json:"id"`
	// Path is the row's, where read with it (Conflicts).
	Path  string    `json:"path,omitempty"`
	Node  string    `json:"node"`
	State CopyState `json:"state"`
	// InfoHash is the infohash of the node's copy, when it has one;
	// RowInfoHash the row's, which the copy was checked against.
	InfoHash    string      `json:"infohash,omitempty"`
	RowInfoHash string      `json:"row_infohash"`
	Error       string      `json:"error,omitempty"`
	Fingerprint Fingerprint `json:"-"`
	UpdatedAt   time.Time   `json:"updated_at"`
}
