package seeder

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/anacrolix/torrent/metainfo"
)

// MetaInfo wraps an info dictionary into a .torrent announcing to tiers of
// trackers (BEP 12: a client announces to one URL of each tier, trying them
// in turn) with web seeds webSeeds.
func MetaInfo(infoBytes []byte, tiers [][]string, webSeeds []string) *metainfo.MetaInfo {
	mi := &metainfo.MetaInfo{InfoBytes: infoBytes, CreatedBy: "lanseedd"}
	if len(webSeeds) > 0 {
		mi.UrlList = webSeeds // never an empty url-list key
	}
	if len(tiers) > 0 && len(tiers[0]) > 0 {
		mi.Announce = tiers[0][0]
		mi.AnnounceList = tiers
	}
	return mi
}

// announceTiers makes the tiers of lanseedd's torrents: our tracker's URLs
// (HTTP and UDP of one tracker) as one tier, each extra tracker as a tier
// of its own, announced to as well.
func announceTiers(ours, extra []string) [][]string {
	var tiers [][]string
	if len(ours) > 0 {
		tiers = append(tiers, slices.Clone(ours))
	}
	for _, a := range extra {
		tiers = append(tiers, []string{a})
	}
	return tiers
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see the old file or the new one, never
// a part, even after a crash.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data, true) }

func writeFileAtomic(path string, data []byte, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// torrentWrites serializes the writes of .torrent files.
var torrentWrites sync.Mutex

func writeTorrent(path string, mi *metainfo.MetaInfo) error {
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	// No fsync: it cost more than hashing a small file, and a .torrent
	// torn by a crash is found at restore (it does not load, or its
	// infohash is not the row's) and made again. One at a time: creates
	// and renames in one directory take its lock, and many at once spend
	// more CPU spinning on it than writing (measured: 0.7 ms per .torrent
	// with 16 at once).
	torrentWrites.Lock()
	defer torrentWrites.Unlock()
	if err := writeFileAtomic(path, buf.Bytes(), false); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// torrentName is the file name of row fileID's .torrent in the torrents directory.
func torrentName(fileID int64) string { return strconv.FormatInt(fileID, 10) + ".torrent" }

// TorrentPath is where the daemon keeps row fileID's .torrent under its
// state directory.
func TorrentPath(stateDir string, fileID int64) string {
	return filepath.Join(stateDir, "torrents", torrentName(fileID))
}
