package seeder

import (
	"path/filepath"
)

// TorrentPath is where the daemon keeps row fileID's .torrent under its
// state directory.
func TorrentPath(stateDir string, fileID int64) string {
	return filepath.Join(stateDir, "torrents", torrentName(fileID))
}
