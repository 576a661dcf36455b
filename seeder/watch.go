package seeder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// watcher keeps the seeder in step with the filesystem: inotify on the
// directories that hold seeded files (every directory of a directory row)
// and on the nearest existing ancestor of a missing file, a debounce, and a
// periodic rescan that catches what inotify cannot see (NFS, overflowed
// queues, directories it had no watch left for). Whatever changed goes back
// to pending in the catalog, so that admins see it, and is rehashed.
type watcher struct {
	root     string
	debounce time.Duration
	log      *slog.Logger
	// requeue marks a row pending again; it is called without locks held.
	requeue func(ctx context.Context, fileID int64, reason string) error

	fsw *fsnotify.Watcher // nil when inotify is unavailable

	mu     sync.Mutex
	rows   map[int64]*watchedRow
	byFile map[string]map[int64]bool // a seeded file (or directory row) → rows
	byDir  map[string]map[int64]bool // an event anywhere in this directory → rows
	refs   map[string]int            // inotify watches, by directory
	dirty  map[int64]bool
	// limit, when not 0, is how many directories may be watched (tests);
	// the kernel's own limit shows as ENOSPC.
	limit      int
	limitHit   bool
	flushTimer *time.Timer
	flushC     chan struct{}

	// catalogDirs are the directories watched for ready rows that are not
	// loaded (demand mode), which the watcher does not hold: an event
	// there names a path, gathered in changed, and lookup finds the rows
	// it concerns in the catalog. Memory follows directories, not rows.
	catalogDirs map[string]bool
	changed     map[string]bool
	lookup      func(ctx context.Context, paths []string)
}

// watchedRow is what the watcher knows of one row.
type watchedRow struct {
	fileID int64
	path   string // the catalog's path
	state  lanseedd.State
	abs    string // resolved path; "" while missing
	dir    bool
	fp     lanseedd.Fingerprint
	// watched are the directories whose events concern the row; keys of
	// byFile or byDir as file says.
	watched []watchKey
	// requeued: the row was sent back to pending; it is not looked at
	// again until the seeder has worked on it.
	requeued bool
	// probe is what a row in error saw of its path (see probePath): it is
	// tried again when that changes.
	probe string
}

type watchKey struct {
	path string
	file bool // a key of byFile (watching path's parent) rather than byDir
}

// inotifyHint is the sysctl to raise when inotify runs out of watches.
const inotifyHint = "raise the sysctl fs.inotify.max_user_watches (e.g. sysctl -w fs.inotify.max_user_watches=1048576)"

func newWatcher(root string, debounce time.Duration, logger *slog.Logger, requeue func(context.Context, int64, string) error) *watcher {
	w := &watcher{
		root:     root,
		debounce: debounce,
		log:      logger,
		requeue:  requeue,
		rows:     make(map[int64]*watchedRow),
		byFile:   make(map[string]map[int64]bool),
		byDir:    make(map[string]map[int64]bool),
		refs:     make(map[string]int),
		dirty:    make(map[int64]bool),
		flushC:   make(chan struct{}, 1),

		catalogDirs: make(map[string]bool),
		changed:     make(map[string]bool),
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		logger.Warn("cannot watch the filesystem; changes are seen by the periodic rescan only",
			"err", err, "hint", "raise the sysctl fs.inotify.max_user_instances")
	}
	w.fsw = fsw
	return w
}

// track records the outcome of the seeder's work on a row: the files of a
// ready row (or an empty file) are watched for changes, a missing row's
// nearest existing ancestor for the file to appear, and the directory of a
// row in error for a change that may cure it. Rows whose error only an
// edit of the row cures are not tracked (forget).
func (w *watcher) track(fileID int64, path string, state lanseedd.State, l *torrentfile.Layout) {
	r := &watchedRow{fileID: fileID, path: path, state: state}
	switch {
	case l != nil:
		r.abs, r.dir, r.fp = l.Abs, l.Dir, l.Fingerprint
		r.watched = append(r.watched, watchKey{path: r.abs, file: true})
		if l.Dir {
			filepath.WalkDir(r.abs, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					r.watched = append(r.watched, watchKey{path: p})
				}
				return nil
			})
		}
	case state == lanseedd.StateMissing || state == lanseedd.StateError:
		if a := w.ancestor(path); a != "" {
			r.watched = append(r.watched, watchKey{path: a})
		}
		if state == lanseedd.StateError {
			r.probe = w.probePath(path)
		}
	default:
		w.forget(fileID)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(fileID)
	w.rows[fileID] = r
	for _, k := range r.watched {
		m, dir := w.byDir, k.path
		if k.file {
			m, dir = w.byFile, filepath.Dir(k.path)
		}
		if m[k.path] == nil {
			m[k.path] = make(map[int64]bool)
		}
		m[k.path][fileID] = true
		w.addWatchLocked(dir)
	}
	// Look once more now that the watches are in place: a change between
	// the seeder's look and the watch (a file coming back as its row is
	// being marked missing) raised no event.
	w.dirty[fileID] = true
	w.armLocked()
}

// watchLayout watches the directories of a ready row that is not loaded:
// the one holding it and, for a directory row, every directory with files
// in it.
func (w *watcher) watchLayout(l *torrentfile.Layout) {
	w.mu.Lock()
	defer w.mu.Unlock()
	add := func(dir string) {
		if !w.catalogDirs[dir] {
			w.catalogDirs[dir] = true
			w.addWatchLocked(dir)
		}
	}
	add(filepath.Dir(l.Abs))
	if l.Dir {
		add(l.Abs)
		for _, f := range l.Files {
			add(filepath.Dir(f.Abs))
		}
	}
}

// forget stops watching a row (deleted, or in error).
func (w *watcher) forget(fileID int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(fileID)
}

func (w *watcher) forgetLocked(fileID int64) {
	r, ok := w.rows[fileID]
	if !ok {
		return
	}
	delete(w.rows, fileID)
	delete(w.dirty, fileID)
	for _, k := range r.watched {
		m, dir := w.byDir, k.path
		if k.file {
			m, dir = w.byFile, filepath.Dir(k.path)
		}
		delete(m[k.path], fileID)
		if len(m[k.path]) == 0 {
			delete(m, k.path)
		}
		w.removeWatchLocked(dir)
	}
}

// ancestor returns the nearest existing directory, inside the content
// root, on the way to catalog path rel; "" if rel is not under the root.
func (w *watcher) ancestor(rel string) string {
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(w.root, rel)
	}
	p = filepath.Clean(p)
	if !torrentfile.Within(w.root, p) {
		return ""
	}
	for p = filepath.Dir(p); torrentfile.Within(w.root, p); p = filepath.Dir(p) {
		if fi, err := lstatDir(p); err == nil && fi {
			return p
		}
		if p == w.root {
			break
		}
	}
	return ""
}

func lstatDir(p string) (bool, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return false, err
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFDIR, nil
}

func (w *watcher) addWatchLocked(dir string) {
	w.refs[dir]++
	if w.refs[dir] > 1 || w.fsw == nil {
		return
	}
	var err error
	if w.limit > 0 && w.watchCountLocked() > w.limit {
		err = syscall.ENOSPC
	} else {
		err = w.fsw.Add(dir)
	}
	switch {
	case err == nil:
	case errors.Is(err, syscall.ENOSPC):
		if !w.limitHit {
			w.limitHit = true
			w.log.Warn("out of inotify watches: changes in some directories are seen only by the periodic rescan",
				"path", dir, "hint", inotifyHint)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Gone meanwhile: the rescan, or the parent's event, tells.
	default:
		w.log.Warn("cannot watch directory; its changes are seen by the periodic rescan only", "path", dir, "err", err)
	}
}

// watchCountLocked is how many directories have a watch, for the test limit.
func (w *watcher) watchCountLocked() int { return len(w.refs) }

func (w *watcher) removeWatchLocked(dir string) {
	w.refs[dir]--
	if w.refs[dir] > 0 {
		return
	}
	delete(w.refs, dir)
	if w.fsw != nil {
		// The directory may be gone, or never got a watch: nothing to undo.
		_ = w.fsw.Remove(dir)
	}
}

// run handles filesystem events and rescans until ctx is done.
func (w *watcher) run(ctx context.Context, rescan time.Duration) {
	var events chan fsnotify.Event
	var errs chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
		defer w.fsw.Close()
	}
	var tick <-chan time.Time
	if rescan > 0 {
		t := time.NewTicker(rescan)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			w.event(ev.Name)
		case err := <-errs:
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("filesystem event queue overflowed; rescanning every seeded file",
					"hint", "raise the sysctl fs.inotify.max_queued_events")
			} else {
				w.log.Warn("filesystem watch error; rescanning every seeded file", "err", err)
			}
			w.markAll()
		case <-tick:
			w.markAll()
			w.flush(ctx)
		case <-w.flushC:
			w.flush(ctx)
		}
	}
}

// event marks the rows an event on name concerns and arms the debounce.
func (w *watcher) event(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.dirty)
	for _, m := range []map[int64]bool{w.byFile[name], w.byDir[filepath.Dir(name)], w.byDir[name]} {
		for id := range m {
			w.dirty[id] = true
		}
	}
	if len(w.dirty) > n {
		w.armLocked()
	}
	if w.catalogDirs[filepath.Dir(name)] || w.catalogDirs[name] {
		w.changed[name] = true
		w.armLocked()
	}
}

func (w *watcher) markAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.rows {
		w.dirty[id] = true
	}
	w.armLocked()
}

func (w *watcher) armLocked() {
	if w.flushTimer != nil {
		return
	}
	w.flushTimer = time.AfterFunc(w.debounce, func() {
		select {
		case w.flushC <- struct{}{}:
		default:
		}
	})
}

// flush looks at the rows events marked: a seeded file that changed, went
// away or was replaced goes back to pending; a missing file that appeared
// too. It reports how many rows were requeued.
func (w *watcher) flush(ctx context.Context) int {
	w.mu.Lock()
	w.flushTimer = nil
	var rows []watchedRow
	for id := range w.dirty {
		if r, ok := w.rows[id]; ok && !r.requeued {
			rows = append(rows, *r)
		}
	}
	clear(w.dirty)
	var paths []string
	if w.lookup != nil {
		for p := range w.changed {
			paths = append(paths, p)
		}
	}
	clear(w.changed)
	w.mu.Unlock()
	if len(paths) > 0 {
		w.lookup(ctx, paths)
	}

	requeued := 0
	for _, r := range rows {
		reason := w.check(r)
		if reason == "" {
			continue
		}
		if r.state == lanseedd.StateMissing && reason == stillMissing {
			// Follow the path as directories appear: watch the new
			// nearest ancestor.
			w.track(r.fileID, r.path, r.state, nil)
			continue
		}
		if err := w.requeue(ctx, r.fileID, reason); err != nil {
			if ctx.Err() == nil {
				// The catalog is away: look again shortly, or the change
				// would wait for the next event or rescan.
				w.log.Warn("requeue failed; retried", "file_id", r.fileID, "in", requeueRetry, "err", err)
				id := r.fileID
				time.AfterFunc(requeueRetry, func() {
					w.mu.Lock()
					defer w.mu.Unlock()
					w.dirty[id] = true
					w.armLocked()
				})
			}
			continue
		}
		w.log.Info("content changed on disk; rehashing", "file_id", r.fileID, "path", r.path, "reason", reason)
		w.mu.Lock()
		if cur, ok := w.rows[r.fileID]; ok {
			cur.requeued = true
		}
		w.mu.Unlock()
		requeued++
	}
	return requeued
}

const stillMissing = "still missing"

// requeueRetry is how soon a requeue the catalog refused is tried again.
const requeueRetry = 2 * time.Second

// check says why row r must be redone, or "" if nothing changed.
func (w *watcher) check(r watchedRow) string {
	if r.state == lanseedd.StateError && r.abs == "" {
		if w.probePath(r.path) == r.probe {
			return ""
		}
		return "file or directory changed; retrying"
	}
	abs, err := torrentfile.Resolve(w.root, r.path)
	if r.state == lanseedd.StateMissing {
		if err != nil {
			return stillMissing
		}
		return "file appeared"
	}
	switch {
	case err != nil:
		return "file is gone"
	case abs != r.abs:
		return "path now names another file"
	}
	l, err := torrentfile.ScanBeneath(w.root, abs)
	switch {
	case err != nil:
		return "file is gone"
	case l.Fingerprint != r.fp:
		return "file changed on disk"
	}
	return ""
}

// probePath sums up what the disk says of catalog path rel: where it
// resolves to, or why not, and the resolved file's identity, mode and
// change time, which a chmod, a rename or a link replaced all move.
func (w *watcher) probePath(rel string) string {
	abs, err := torrentfile.Resolve(w.root, rel)
	if err != nil {
		return err.Error()
	}
	var st syscall.Stat_t
	if err := syscall.Stat(abs, &st); err != nil {
		return err.Error()
	}
	return fmt.Sprint(abs, st.Dev, st.Ino, st.Mode, st.Size, st.Ctim.Sec, st.Ctim.Nsec)
}
