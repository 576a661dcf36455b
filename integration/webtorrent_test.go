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
// only, which a Node client on a LAN does not use. --ignore-scripts:
// ip-set's preinstall demands pnpm (a guard for its own developers), and
// the native modules the others would build (bufferutil, utf-8-validate,
// utp-native) have JavaScript fallbacks or serve uTP, which is off.
func installWebTorrent() (string, error) {
	w := &webtorrentInstall
	w.once.Do(func() { w.dir, w.err = npmInstall() })
	return w.dir, w.err
}

func npmInstall() (string, error) {
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
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "lanseedd-integration", "webtorrent-"+hex.EncodeToString(h.Sum(nil)[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "webtorrent", "package.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Installed beside dir and renamed into place, so that an interrupted
	// install is never taken for a finished one.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for name, b := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci: %w\n%s", err, out)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// downloadWebTorrent runs webtorrent (npm) under Node on the job.
func downloadWebTorrent(ctx context.Context, j *job) error {
	dir, err := installWebTorrent()
	if err != nil {
		return err
	}
	return j.runUntilDone(ctx, j.command(ctx, "node", filepath.Join(dir, "get.mjs"), j.source(), j.dir, strconv.Itoa(j.port)))
}
