package seeder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// Rows whose failure may pass on its own (a link briefly pointing out of the
// content root, a permission being fixed, too many open files during a
// connection flood) are tried again: after retryFirst, then twice as long
// each time up to retryMax, and at once when their file or its directory
// changes. A row that fails again and again costs a few stats an hour, not
// a re-hash a second.
const (
	retryFirst = 5 * time.Second
	retryMax   = 10 * time.Minute
)

// retryDelay is the wait before attempt n+1 after n failures (n >= 1).
func retryDelay(n int) time.Duration {
	d := retryFirst
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// permanent reports whether a row at catalog path rel can only be cured by
// an edit of the row: the path itself is malformed, or names a place
// outside the content root before any link is followed. Those are the
// checks Resolve makes before it looks at the disk; every failure after
// them depends on the disk, which may change.
func permanent(root, rel string) bool {
	if rel == "" || !utf8.ValidString(rel) || strings.ContainsRune(rel, 0) {
		return true
	}
	abs := filepath.Join(root, rel)
	if filepath.IsAbs(rel) {
		abs = filepath.Clean(rel)
	}
	return !torrentfile.Within(root, abs)
}

// retries counts the failed attempts of rows that may heal and holds the
// timers that try them again.
type retries struct {
	mu   sync.Mutex
	rows map[int64]*retryRow
	done bool // Run ended: no more timers
}

type retryRow struct {
	path  string // an edit of the path starts the count again
	n     int
	timer *time.Timer
}

// next counts a failure of row fileID at path and returns how long to wait
// before the next attempt.
func (r *retries) next(fileID int64, path string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rows == nil {
		r.rows = make(map[int64]*retryRow)
	}
	rr := r.rows[fileID]
	if rr == nil || rr.path != path {
		if rr != nil && rr.timer != nil {
			rr.timer.Stop()
		}
		rr = &retryRow{path: path}
		r.rows[fileID] = rr
	}
	rr.n++
	return retryDelay(rr.n)
}

// schedule runs f after d, replacing the row's earlier timer.
func (r *retries) schedule(fileID int64, d time.Duration, f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rr := r.rows[fileID]
	if rr == nil || r.done {
		return
	}
	if rr.timer != nil {
		rr.timer.Stop()
	}
	rr.timer = time.AfterFunc(d, f)
}

// reset forgets a row's failures: it succeeded, or failed for good.
func (r *retries) reset(fileID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rr := r.rows[fileID]; rr != nil {
		if rr.timer != nil {
			rr.timer.Stop()
		}
		delete(r.rows, fileID)
	}
}

// stop cancels every timer.
func (r *retries) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	for _, rr := range r.rows {
		if rr.timer != nil {
			rr.timer.Stop()
		}
	}
}

// retryLater records a transient failure of row and schedules the next
// attempt; it returns the text the row shows.
func (s *Seeder) retryLater(ctx context.Context, row lanseedd.Row, err error) string {
	wait := s.retries.next(row.FileID, row.Path)
	id := row.FileID
	s.retries.schedule(id, wait, func() {
		if ctx.Err() != nil {
			return
		}
		if err := s.requeue(ctx, id, "retrying after: "+err.Error()); err != nil && ctx.Err() == nil {
			s.log.Warn("requeue failed", "file_id", id, "err", err)
		}
	})
	return fmt.Sprintf("%v; retrying in %s", err, wait.Round(time.Second))
}

// holdPending leaves a row pending, with the reason it waits, when its work
// could not be recorded: it keeps what the row had, so that a ready row's
// figures stay until it is redone.
func (s *Seeder) holdPending(ctx context.Context, row lanseedd.Row, reason string) {
	if row.State == lanseedd.StateDeleted {
		return
	}
	_, err := s.cat.Finish(ctx, lanseedd.Result{
		FileID: row.FileID, Generation: row.Generation, State: lanseedd.StatePending,
		InfoHash: row.InfoHash, Name: row.Name, Size: row.Size, Magnet: row.Magnet,
		Fingerprint: row.Fingerprint, Error: reason,
	})
	if err != nil && ctx.Err() == nil {
		s.log.Debug("recording why a row waits failed", "file_id", row.FileID, "err", err)
	}
}

// backOff sets a row aside for its retry delay: the catalog still lists it
// as pending, but this seeder does not take it up before then.
func (s *Seeder) backOff(row lanseedd.Row) time.Duration {
	wait := s.retries.next(row.FileID, row.Path)
	until := time.Now().Add(wait)
	s.mu.Lock()
	s.settling[row.FileID] = settle{until: until}
	s.mu.Unlock()
	time.AfterFunc(wait, s.Wake)
	return wait
}

// failedRow handles work on a row that could not be done or recorded: the
// row waits, with its reason shown, and is tried again later, never at
// once in a loop.
func (s *Seeder) failedRow(ctx context.Context, row lanseedd.Row, err error) {
	if errors.Is(err, errStateDir) {
		// Logged once for the whole episode (stateDir); the row says why
		// it waits, and is taken up again when the directory is writable.
		s.holdPending(ctx, row, "waiting: "+err.Error())
		return
	}
	wait := s.backOff(row)
	s.log.Warn("row not processed; retrying", "file_id", row.FileID, "in", wait, "err", err)
	s.holdPending(ctx, row, fmt.Sprintf("%v; retrying in %s", err, wait.Round(time.Second)))
}

// Problem says why the seeder cannot make new torrents, or nil.
func (s *Seeder) Problem() error { return s.state.Err() }

// holdAll tells the rows waiting for work (up to limit) why they wait.
func (s *Seeder) holdAll(ctx context.Context, limit int, why error) {
	rows, err := s.cat.Work(ctx, limit, s.busy())
	if err != nil {
		return
	}
	reason := "waiting: " + why.Error()
	for _, row := range rows {
		if row.Error != reason && s.claim(row.FileID) {
			s.holdPending(ctx, row, reason)
			s.release(row.FileID)
		}
	}
}
