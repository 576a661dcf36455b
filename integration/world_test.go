//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// world is a catalog database, a content tree and a daemon, with the
// test's own model of what it wrote to each: the truth the daemon's state
// is checked against.
type world struct {
	t       testing.TB
	d       *daemon
	db      *sql.DB // the site's connection
	dialect string  // "postgres" or "mysql"
	content string

	mu sync.Mutex
	// files maps each content path the test wrote to its SHA-256.
	files map[string][32]byte
	// dirs are the directories the test made.
	dirs map[string]bool
	// live are catalog ids the test believes exist; deleted those it
	// deleted, with their paths.
	live    map[int64]string
	deleted map[int64]string
	// seen holds every infohash the state table ever showed.
	seen map[string]bool
}

func newWorld(t testing.TB, db *sql.DB, dialect, content string) *world {
	return &world{t: t, db: db, dialect: dialect, content: content,
		files: map[string][32]byte{}, dirs: map[string]bool{},
		live: map[int64]string{}, deleted: map[int64]string{}, seen: map[string]bool{}}
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (w *world) rebind(q string) string {
	if w.dialect != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// retry runs a catalog statement until it succeeds: the site's writes wait
// out a database restart.
func (w *world) retry(f func() error) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// insert adds a catalog row and returns its id.
func (w *world) insert(p string) (int64, error) {
	var id int64
	err := w.retry(func() error {
		if w.dialect == "postgres" {
			return w.db.QueryRow("INSERT INTO files (path, title) VALUES ($1, $2) RETURNING id", p, "t").Scan(&id)
		}
		res, err := w.db.Exec("INSERT INTO files (path, title) VALUES (?, ?)", p, "t")
		if err == nil {
			id, err = res.LastInsertId()
		}
		return err
	})
	if err == nil {
		w.mu.Lock()
		w.live[id] = p
		w.mu.Unlock()
	}
	return id, err
}

func (w *world) exec(q string, args ...any) error {
	return w.retry(func() error {
		_, err := w.db.Exec(w.rebind(q), args...)
		return err
	})
}

func (w *world) setPath(id int64, p string) error {
	err := w.exec("UPDATE files SET path = ? WHERE id = ?", p, id)
	if err == nil {
		w.mu.Lock()
		w.live[id] = p
		w.mu.Unlock()
	}
	return err
}

func (w *world) setTitle(id int64) error {
	return w.exec("UPDATE files SET title = ? WHERE id = ?", rand.Text()[:8], id)
}

func (w *world) remove(id int64) error {
	err := w.exec("DELETE FROM files WHERE id = ?", id)
	if err == nil {
		w.mu.Lock()
		w.deleted[id] = w.live[id]
		delete(w.live, id)
		w.mu.Unlock()
	}
	return err
}

// writeFile writes size random bytes to content path p (creating or
// overwriting it in place) and records them.
func (w *world) writeFile(p string, size int) error {
	data := make([]byte, size)
	rand.Read(data)
	full := filepath.Join(w.content, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		w.mu.Lock()
		w.dirs[d] = true
		w.mu.Unlock()
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		return err
	}
	w.mu.Lock()
	w.files[p] = sha256.Sum256(data)
	w.mu.Unlock()
	return nil
}

func (w *world) removeFile(p string) error {
	if err := os.Remove(filepath.Join(w.content, p)); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.files, p)
	w.mu.Unlock()
	return nil
}

func (w *world) renameFile(from, to string) error {
	if from == to {
		return nil
	}
	if err := os.Rename(filepath.Join(w.content, from), filepath.Join(w.content, to)); err != nil {
		return err
	}
	w.mu.Lock()
	w.files[to] = w.files[from]
	delete(w.files, from)
	w.mu.Unlock()
	return nil
}

// sample records the infohashes the state table shows now.
func (w *world) sample() {
	rows, err := w.db.Query("SELECT infohash FROM lanseedd_torrents WHERE infohash IS NOT NULL")
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var ih string
		if rows.Scan(&ih) == nil && ih != "" {
			w.mu.Lock()
			w.seen[ih] = true
			w.mu.Unlock()
		}
	}
}

// sampleEvery samples until ctx ends.
func (w *world) sampleEvery(ctx context.Context, every time.Duration) {
	for {
		w.sample()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// outside reports whether a catalog path leaves the content root.
func outside(p string) bool {
	return strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../")
}

// check compares the daemon's state with the catalog, the content tree and
// the model, and returns every difference.
func (w *world) check(ctx context.Context) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	w.mu.Lock()
	files := clone(w.files)
	deleted := clone(w.deleted)
	seen := clone(w.seen)
	w.mu.Unlock()

	catalog := map[int64]string{}
	rows, err := w.db.QueryContext(ctx, "SELECT id, path FROM files")
	if err != nil {
		return []string{"read catalog: " + err.Error()}
	}
	for rows.Next() {
		var id int64
		var p string
		rows.Scan(&id, &p)
		catalog[id] = p
	}
	rows.Close()
	type state struct{ path, state, infohash, err string }
	states := map[int64]state{}
	rows, err = w.db.QueryContext(ctx, "SELECT file_id, path, state, COALESCE(infohash, ''), COALESCE(error, '') FROM lanseedd_torrents")
	if err != nil {
		return []string{"read state table: " + err.Error()}
	}
	for rows.Next() {
		var id int64
		var s state
		rows.Scan(&id, &s.path, &s.state, &s.infohash, &s.err)
		states[id] = s
	}
	rows.Close()

	ready := map[string]bool{} // infohashes of ready rows
	for id, p := range catalog {
		s, ok := states[id]
		if !ok {
			bad("row %d (%q): no state row", id, p)
			continue
		}
		if s.path != p {
			bad("row %d: state path %q, catalog path %q", id, s.path, p)
		}
		sum, exists := files[p]
		want := "missing"
		switch {
		case outside(p):
			want = "error"
		case exists && sum == sha256.Sum256(nil):
			want = "error" // an empty file is not served
		case exists:
			want = "ready"
		}
		if s.state != want {
			bad("row %d (%q): state %s (%s), want %s", id, p, s.state, s.err, want)
			continue
		}
		if want == "ready" {
			ready[s.infohash] = true
			for _, e := range w.checkReady(ctx, id, p, s.infohash) {
				bad("row %d (%q): %s", id, p, e)
			}
		}
	}
	for id, s := range states {
		if _, ok := catalog[id]; !ok {
			bad("state row %d (%q, %s) has no catalog row", id, s.path, s.state)
		}
	}

	// Nothing left of deleted rows and old torrents.
	entries, err := os.ReadDir(filepath.Join(w.d.cfg.State, "torrents"))
	if err != nil {
		bad("torrents directory: %v", err)
	}
	for _, e := range entries {
		id, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".torrent"), 10, 64)
		if err != nil || !strings.HasSuffix(e.Name(), ".torrent") {
			bad("stray file in the torrents directory: %s", e.Name())
			continue
		}
		if _, live := catalog[id]; !live || states[id].state != "ready" {
			bad("stray .torrent for row %d (state %q)", id, states[id].state)
		}
	}
	for id := range deleted {
		if _, ok := catalog[id]; ok {
			continue
		}
		if code, _, err := w.d.get(w.d.httpURL() + "/t/" + strconv.FormatInt(id, 10) + ".torrent"); err != nil || code != http.StatusNotFound {
			bad("deleted row %d: GET /t/%d.torrent = %d %v, want 404", id, id, code, err)
		}
	}
	for ih := range seen {
		if ready[ih] {
			continue
		}
		// A hang-up (an error) is the answer for a torrent not seeded.
		if ok, _ := w.seeded(ih); ok {
			bad("old infohash %s (no ready row has it) is still seeded", ih)
		}
		if code, _, err := w.d.get(w.d.httpURL() + "/t/" + ih + ".torrent"); err != nil || code != http.StatusNotFound {
			bad("old infohash %s: GET /t/%s.torrent = %d %v, want 404", ih, ih, code, err)
		}
	}
	var stats struct {
		Seeder struct {
			Torrents int `json:"torrents"`
		} `json:"seeder"`
	}
	if code, body, err := w.d.get(w.d.adminURL() + "/api/stats"); err != nil || code != 200 || json.Unmarshal(body, &stats) != nil {
		bad("GET /api/stats: %d %v", code, err)
	} else if stats.Seeder.Torrents != len(ready) {
		bad("the seeder seeds %d torrents; %d distinct infohashes are ready", stats.Seeder.Torrents, len(ready))
	}
	v = append(v, w.checkContent(files)...)
	slices.Sort(v)
	return v
}

// checkReady checks a ready row: its .torrent matches the file on disk
// piece by piece and the state table's infohash, it is served, and the
// seeder answers a handshake for it.
func (w *world) checkReady(ctx context.Context, id int64, p, infohash string) []string {
	var v []string
	mi, err := metainfo.LoadFromFile(filepath.Join(w.d.cfg.State, "torrents", strconv.FormatInt(id, 10)+".torrent"))
	if err != nil {
		return []string{"its .torrent: " + err.Error()}
	}
	if got := mi.HashInfoBytes().HexString(); got != infohash {
		v = append(v, fmt.Sprintf(".torrent infohash %s, state table %s", got, infohash))
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return append(v, "its info: "+err.Error())
	}
	if info.Name != path.Base(p) {
		v = append(v, fmt.Sprintf(".torrent name %q", info.Name))
	}
	if e := verifyPieces(filepath.Join(w.content, p), &info); e != "" {
		v = append(v, ".torrent does not match the file on disk: "+e)
	}
	code, body, err := w.d.get(w.d.httpURL() + "/t/" + strconv.FormatInt(id, 10) + ".torrent")
	if err != nil || code != http.StatusOK {
		v = append(v, fmt.Sprintf("GET /t/%d.torrent = %d %v", id, code, err))
	} else if served, err := metainfo.Load(bytes.NewReader(body)); err != nil || served.HashInfoBytes().HexString() != infohash {
		v = append(v, "the served .torrent is another one")
	}
	if ok, err := w.seeded(infohash); !ok {
		v = append(v, fmt.Sprintf("not seeded (handshake: %v)", err))
	}
	return v
}

// verifyPieces re-hashes a single-file torrent's file and compares.
func verifyPieces(file string, info *metainfo.Info) string {
	f, err := os.Open(file)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if len(info.Files) > 0 || fi.Size() != info.Length {
		return fmt.Sprintf("size %d, torrent says %d", fi.Size(), info.TotalLength())
	}
	buf := make([]byte, info.PieceLength)
	for i := 0; i < info.NumPieces(); i++ {
		n, err := io.ReadFull(f, buf)
		if err != nil && err != io.ErrUnexpectedEOF {
			return err.Error()
		}
		sum := sha1.Sum(buf[:n])
		if !bytes.Equal(sum[:], info.Pieces[i*20:i*20+20]) {
			return fmt.Sprintf("piece %d differs", i)
		}
	}
	return ""
}

// seeded says whether the seeder serves an infohash to a peer: it answers
// a BitTorrent handshake for any infohash (anacrolix echoes it before
// looking it up), then, for a torrent it seeds, says which pieces it has:
// a bitfield, or with super-seeding (the default) a have message for each
// piece it offers; otherwise it hangs up.
func (w *world) seeded(infohash string) (bool, error) {
	ih, err := hex.DecodeString(infohash)
	if err != nil || len(ih) != 20 {
		return false, fmt.Errorf("bad infohash %q", infohash)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(w.d.peerPort)), 3*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	msg = append(msg, ih...)
	msg = append(msg, []byte("-LI0001-"+rand.Text()[:12])...)
	if _, err := c.Write(msg); err != nil {
		return false, err
	}
	reply := make([]byte, 68+5)
	if _, err := io.ReadFull(c, reply); err != nil {
		return false, err
	}
	const have, bitfield = 4, 5
	return bytes.Equal(reply[28:48], ih) && (reply[68+4] == bitfield || reply[68+4] == have), nil
}

// checkContent compares the content tree with what the test wrote: any
// other file, or other bytes, were written by someone else.
func (w *world) checkContent(files map[string][32]byte) []string {
	var v []string
	found := map[string]bool{}
	filepath.WalkDir(w.content, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			v = append(v, "content walk: "+err.Error())
			return nil
		}
		rel, _ := filepath.Rel(w.content, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			w.mu.Lock()
			ok := w.dirs[rel]
			w.mu.Unlock()
			if !ok {
				v = append(v, "content: a directory the test did not make: "+rel)
			}
			return nil
		}
		want, ok := files[rel]
		if !ok {
			v = append(v, "content: a file the test did not write: "+rel)
			return nil
		}
		found[rel] = true
		b, err := os.ReadFile(p)
		if err != nil || sha256.Sum256(b) != want {
			v = append(v, "content: "+rel+" is not what the test wrote")
		}
		return nil
	})
	for p := range files {
		if !found[p] {
			v = append(v, "content: "+p+" is gone")
		}
	}
	return v
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// converge checks until nothing differs or the time is up, and returns how
// long it took and the last differences.
func (w *world) converge(timeout time.Duration) (time.Duration, []string) {
	start := time.Now()
	var v []string
	lastLog := start
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		w.sample()
		v = w.check(ctx)
		cancel()
		if len(v) == 0 || time.Since(start) > timeout {
			return time.Since(start), v
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			w.t.Logf("%.0fs: %d differences, first: %q", time.Since(start).Seconds(), len(v), v[:min(len(v), 5)])
		}
		time.Sleep(250 * time.Millisecond)
	}
}
