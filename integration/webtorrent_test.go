//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// webtorrentFiles is the driver script and the npm packages it runs on,
// pinned by the lock file, with the stand-in for webrtc-polyfill.
//
//go:embed webtorrent
var webtorrentFiles embed.FS

var webtorrentInstall struct {
	once sync.Once
	dir  string
	err  error
}

// installWebTorrent installs the driver's packages once per content of
// integration/webtorrent, in the user's cache directory, and returns the
// directory holding get.mjs. webrtc-polyfill is replaced by a stand-in
// (webtorrent/no-webrtc): its native module, node-datachannel, downloads a
// prebuilt binary or builds libdatachannel at install, and serves WebRTC
// only, which a Node client on a LAN does not use. --ignore-scripts: no
// install script is needed, and one demands pnpm.
func installWebTorrent() (string, error) {
	w := &webtorrentInstall
	w.once.Do(func() {
		files := map[string][]byte{}
		h := sha256.New()
		err := fs.WalkDir(webtorrentFiles, "webtorrent", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := webtorrentFiles.ReadFile(path)
			files[strings.TrimPrefix(path, "webtorrent/")] = b
			fmt.Fprintf(h, "%s %d\n", path, len(b))
			h.Write(b)
			return err
		})
		if err != nil {
			w.err = err
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "lanseedd-integration", "webtorrent-"+hex.EncodeToString(h.Sum(nil)[:6]))
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "webtorrent", "package.json")); err == nil {
			w.dir = dir
			return
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			w.err = err
			return
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			w.err = err
			return
		}
		defer os.RemoveAll(tmp)
		for name, b := range files {
			p := filepath.Join(tmp, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				w.err = err
				return
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				w.err = err
				return
			}
		}
		cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			w.err = fmt.Errorf("npm ci in %s: %v\n%s", tmp, err, out)
			return
		}
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			w.err = err
			return
		}
		w.dir = dir
	})
	return w.dir, w.err
}

// downloadWebTorrent runs webtorrent (npm) under Node on the job.
func downloadWebTorrent(ctx context.Context, j *job) error {
	dir, err := installWebTorrent()
	if err != nil {
		return err
	}
	return j.runUntilDone(ctx, j.command(ctx, "node", filepath.Join(dir, "get.mjs"), j.source(), j.dir, strconv.Itoa(j.port)))
}
