package seeder

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/sys/unix"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// A mirror node (Config.Mirror) has no content of its own: its content
// root is its mirror root, which it fills from the swarm. Every ready row
// it has no copy of is downloaded into the state directory (mirror/), each
// piece verified against the row's torrent, then moved under the mirror
// root at the row's path and seeded read-only like any other row. A row
// made ready again with another torrent is fetched again; a row deleted
// or expired is removed from the mirror root. The mirror root is the one
// place lanseedd writes content, and only there; it never hashes pending
// rows (a primary does).

// errNoRoom says the mirror root's free space is below the floor.
var errNoRoom = errors.New("the mirror root's free space is below seeder.mirror_min_free")

// mirrorDir is where partial downloads live, out of the mirror root.
func (s *Seeder) mirrorDir() string { return filepath.Join(s.cfg.StateDir, "mirror") }

// mirroredPath is the file that remembers, for a row fetched, its path
// under the mirror root: the copy is removed even once the row is gone.
func (s *Seeder) mirroredPath(fileID int64) string {
	return filepath.Join(s.cfg.StateDir, "mirrored", strconv.FormatInt(fileID, 10))
}

// Fetched returns the bytes of pieces a mirror fetched from the swarm
// since start: not those it had already, from an earlier try or an older
// version of the row.
func (s *Seeder) Fetched() int64 { return s.fetched.Load() }

// SetNodes gives the mirror the nodes sharing the catalog, whose public
// listeners serve the .torrent files it fetches.
func (s *Seeder) SetNodes(nodes func() []lanseedd.Node) { s.nodes.Store(&nodes) }

// SetOthersUp says since when other nodes are up on the catalog, by the
// catalog's clock (zero: none is): only then does the seeder look at the
// rows they change (copies.go).
func (s *Seeder) SetOthersUp(since time.Time) {
	if since.IsZero() {
		s.othersSince.Store(0)
		return
	}
	s.othersSince.Store(since.UnixNano())
}

// fetch downloads row's torrent, verifies it, and moves it under the
// mirror root at the row's path.
func (s *Seeder) fetch(ctx context.Context, row lanseedd.Row) (torrentfile.Layout, *metainfo.MetaInfo, error) {
	if !filepath.IsLocal(row.Path) {
		return torrentfile.Layout{}, nil, fmt.Errorf("%w: %q", torrentfile.ErrBadPath, row.Path)
	}
	if err := s.room(row.Size); err != nil {
		return torrentfile.Layout{}, nil, err
	}
	mi, err := s.fetchTorrent(ctx, row)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	ih := mi.HashInfoBytes()
	dir := filepath.Join(s.mirrorDir(), ih.HexString())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return torrentfile.Layout{}, nil, err
	}
	start := time.Now()
	dst := filepath.Join(s.cfg.ContentRoot, row.Path)
	if err := reuseOld(dst, dir, &info); err != nil {
		s.log.Warn("cannot reuse the mirror's old copy; fetching the row whole", "file_id", row.FileID, "path", row.Path, "err", err)
	}
	got, err := s.cl.download(ctx, mi, s.Trackers(), dir, s.nodePeers)
	// Counted once the copy is in place (or the fetch given up).
	defer s.fetched.Add(got.fetched)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	if err := moveInto(filepath.Join(dir, info.BestName()), dst); err != nil {
		return torrentfile.Layout{}, nil, fmt.Errorf("move into the mirror root: %w", err)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(s.mirroredPath(row.FileID)), 0o750); err == nil {
		writeFileAtomic(s.mirroredPath(row.FileID), []byte(row.Path), false)
	}
	l, err := torrentfile.ScanBeneath(s.cfg.ContentRoot, dst)
	if err != nil {
		return torrentfile.Layout{}, nil, err
	}
	if l, err = l.InOrderOf(&info); err != nil {
		return torrentfile.Layout{}, nil, err
	}
	s.log.Info("fetched into the mirror root", "file_id", row.FileID, "path", row.Path, "infohash", row.InfoHash,
		"size", info.TotalLength(), "had", got.had, "fetched", got.fetched, "took", time.Since(start).Round(time.Millisecond))
	return l, MetaInfo(mi.InfoBytes, s.announce, s.webSeedsOf(row)), nil
}

// nodePeers are the seeders of the other nodes up: a fetch dials them
// all, whatever the trackers answer, and trades with the other mirrors.
func (s *Seeder) nodePeers() []string {
	var out []string
	if f := s.nodes.Load(); f != nil {
		for _, n := range (*f)() {
			if n.Up && n.Name != s.cfg.Node {
				out = append(out, n.Peers...)
			}
		}
	}
	return out
}

// fetchTorrent gets row's .torrent from the public listener of a node up,
// the node that made it first.
func (s *Seeder) fetchTorrent(ctx context.Context, row lanseedd.Row) (*metainfo.MetaInfo, error) {
	var nodes []lanseedd.Node
	if f := s.nodes.Load(); f != nil {
		nodes = (*f)()
	}
	slices.SortStableFunc(nodes, func(a, b lanseedd.Node) int {
		switch {
		case a.Name == row.Node:
			return -1
		case b.Name == row.Node:
			return 1
		}
		return 0
	})
	var errs []error
	for _, n := range nodes {
		if !n.Up || n.Name == s.cfg.Node || n.PublicURL == "" {
			continue
		}
		mi, err := getTorrent(ctx, n.PublicURL+"/t/"+strconv.FormatInt(row.FileID, 10)+".torrent")
		if err == nil && mi.HashInfoBytes().HexString() != row.InfoHash {
			err = fmt.Errorf("%s serves another torrent (%s) for the row", n.Name, mi.HashInfoBytes().HexString())
		}
		if err == nil {
			return mi, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no other node is up to serve the row's .torrent")
	}
	return nil, errors.Join(errs...)
}

func getTorrent(ctx context.Context, url string) (*metainfo.MetaInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return metainfo.Load(io.LimitReader(resp.Body, 64<<20))
}

// room checks that n more bytes leave the mirror root's free space above
// the floor.
func (s *Seeder) room(n int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(s.cfg.ContentRoot, &st); err != nil {
		return fmt.Errorf("free space of the mirror root: %w", err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free-n < s.cfg.MirrorMinFree {
		if !s.noRoom.Swap(true) {
			s.log.Warn("the mirror stops fetching: its free space would go below the floor",
				"free", free, "needed", n, "floor", s.cfg.MirrorMinFree)
		}
		return fmt.Errorf("%w: %d bytes free, %d needed, floor %d", errNoRoom, free, n, s.cfg.MirrorMinFree)
	}
	if s.noRoom.Swap(false) {
		s.log.Info("the mirror fetches again: room under the floor", "free", free)
	}
	return nil
}

// moveInto moves a downloaded file or directory to dst, replacing what is
// there, so that dst is the old copy or the new one, never a part: by a
// rename, or a copy beside dst and a rename across file systems.
func moveInto(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".lanseedd-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(src, tmp); err != nil {
		if !errors.Is(err, unix.EXDEV) {
			return err
		}
		if err := copyTree(src, tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	fi, err := os.Lstat(dst)
	if err == nil && fi.IsDir() {
		// A directory is not renamed over: the old one goes aside first.
		old := tmp + ".old"
		if err := os.Rename(dst, old); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// reuseOld puts in dir, under the names the client downloads info to,
// each file of the mirror's copy at old that info names too, cut to its
// new length, unless dir has it already (from a try before): the fetch
// verifies them and takes from the swarm only the pieces that differ. A
// copy, not a link: the old copy is seeded meanwhile, and the client
// writes into these. The kernel copies the range (copy_file_range), by
// sharing blocks where the file system can.
func reuseOld(old, dir string, info *metainfo.Info) error {
	base := filepath.Join(dir, info.BestName())
	for _, f := range info.UpvertedFiles() {
		src, dst := old, base
		if info.IsDir() {
			rel := filepath.Join(f.BestPath()...)
			if !filepath.IsLocal(rel) {
				continue
			}
			src, dst = filepath.Join(old, rel), filepath.Join(base, rel)
		}
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			continue // nothing to reuse (a directory where a file was is not)
		}
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := copyFile(src, dst, f.Length, false); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies at most n bytes of the file src to a new file dst,
// making dst's directory; with sync, dst is on disk when it returns.
func copyFile(src, dst string, n int64, sync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = io.Copy(out, io.LimitReader(in, n))
		if err == nil && sync {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}
	return err
}

// copyTree copies a file or a directory tree, syncing the files.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		return copyFile(p, out, fi.Size(), true)
	})
}

// dropMirrored removes the mirror's copy of a row gone, expired or made
// again: its files under the mirror root, its .torrent, and its seeding.
func (s *Seeder) dropMirrored(fileID int64, why string) {
	b, err := os.ReadFile(s.mirroredPath(fileID))
	if err != nil {
		return
	}
	rel := string(b)
	s.unseed(fileID, metainfo.Hash{})
	os.Remove(s.TorrentFile(fileID))
	if filepath.IsLocal(rel) {
		if err := os.RemoveAll(filepath.Join(s.cfg.ContentRoot, rel)); err != nil {
			s.log.Warn("cannot remove a mirrored copy", "file_id", fileID, "path", rel, "err", err)
			return
		}
		// Directories the copy made, now empty, go too.
		for dir := filepath.Dir(rel); dir != "."; dir = filepath.Dir(dir) {
			if os.Remove(filepath.Join(s.cfg.ContentRoot, dir)) != nil {
				break
			}
		}
	}
	os.Remove(s.mirroredPath(fileID))
	s.log.Info("removed a mirrored copy", "file_id", fileID, "path", rel, "reason", why)
}

// dropStrayMirrored removes the mirrored copies of rows that are gone or
// no longer ready (a tombstone forgotten before the mirror saw it).
func (s *Seeder) dropStrayMirrored(ctx context.Context) {
	entries, err := os.ReadDir(filepath.Join(s.cfg.StateDir, "mirrored"))
	if err != nil {
		return
	}
	for len(entries) > 0 && ctx.Err() == nil {
		batch := entries[:min(len(entries), sweepPage)]
		entries = entries[len(batch):]
		var ids []int64
		for _, e := range batch {
			if id, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		states, err := s.cat.States(ctx, ids)
		if err != nil {
			return
		}
		for _, id := range ids {
			if st, ok := states[id]; !ok || st == lanseedd.StateDeleted || st == lanseedd.StateExpired {
				s.dropMirrored(id, "the row is gone")
			}
		}
	}
}

// downloaded is what a download had in its directory before it started,
// and what it fetched from the swarm, in bytes of verified pieces.
type downloaded struct{ had, fetched int64 }

// download fetches mi into dir with the client, every piece verified,
// announcing to trackers and dialling the peers that peers gives (now,
// and again whenever it has none), and drops it from the client once
// complete. What dir holds already is verified first, and kept where it
// is the torrent's.
func (c *client) download(ctx context.Context, mi *metainfo.MetaInfo, trackers [][]string, dir string, peers func() []string) (res downloaded, err error) {
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return downloaded{}, err
	}
	st := storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir:   dir,
		PieceCompletion: storage.NewMapPieceCompletion(),
		UsePartFiles:    g.Some(false),
	})
	defer st.Close()
	spec.Storage = st
	// What dir holds is verified before the torrent is given trackers
	// and peers.
	spec.Trackers = nil
	t, _, err := c.cl.AddTorrentSpec(spec)
	if err != nil {
		return downloaded{}, err
	}
	defer t.Drop()
	if holds(dir) {
		if err := t.VerifyDataContext(ctx); err != nil {
			return downloaded{}, err
		}
		res.had = t.BytesCompleted()
	}
	defer func() { res.fetched = t.BytesCompleted() - res.had }()
	tiers := make([][]string, len(trackers))
	for i, tier := range trackers {
		tiers[i] = slices.Clone(tier[:min(len(tier), 1)])
	}
	t.AddTrackers(tiers)
	t.SetMaxEstablishedConns(c.maxConns)
	t.DownloadAll()
	dial := func() {
		var ps []torrent.PeerInfo
		for _, a := range peers() {
			ps = append(ps, torrent.PeerInfo{Addr: torrent.StringAddr(a), Source: torrent.PeerSourceDirect, Trusted: true})
		}
		t.AddPeers(ps)
	}
	dial()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	done, moved := t.BytesCompleted(), time.Now()
	for {
		select {
		case <-t.Complete().On():
			return res, nil
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		if t.Stats().ActivePeers == 0 {
			dial()
		}
		if n := t.BytesCompleted(); n != done {
			done, moved = n, time.Now()
			continue
		}
		// No piece since the last tick: the connections work out their
		// requests again (a connection can be left asking nothing of a
		// peer that has what it lacks, until some message comes).
		t.UpdateRequests()
		if time.Since(moved) >= fetchStall {
			// The client's state, for whoever looks into why: the last
			// stall's only, so that the state directory does not fill.
			status := filepath.Join(filepath.Dir(dir), "stalled.status")
			if f, err := os.Create(status); err == nil {
				fmt.Fprintf(f, "# the fetch of %s stalled at %s\n\n", mi.HashInfoBytes().HexString(), time.Now().UTC().Format(time.RFC3339))
				c.cl.WriteStatus(f)
				// The library's counters (messages of each type, requests
				// rejected...), since the process started.
				fmt.Fprintln(f, "\n# counters")
				expvar.Do(func(kv expvar.KeyValue) { fmt.Fprintf(f, "%s: %s\n", kv.Key, kv.Value) })
				f.Close()
			}
			st := t.Stats()
			return res, fmt.Errorf("%w: %d of %d bytes after %s without a piece; %d peers known, %d connected, %d seeds (client state in %s)",
				errStalled, done, t.Length(), fetchStall, st.TotalPeers, st.ActivePeers, st.ConnectedSeeders, status)
		}
	}
}

// holds reports whether dir holds a file that is not empty.
func holds(dir string) bool {
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return found
		}
		return nil
	})
	return err == found
}

// fetchStall is how long a fetch may go without completing a piece
// before it is given up and tried again.
const fetchStall = 30 * time.Second

// errStalled says a fetch stopped moving.
var errStalled = errors.New("the fetch stalled")
