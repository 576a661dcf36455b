package seeder

import (
	"context"
	"fmt"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
)

// settle is what the seeder knows of a file too fresh to publish.
type settle struct {
	fp    lanseedd.Fingerprint // last seen
	since time.Time            // when fp was first seen
	until time.Time            // not worked on before
}

// settlingError says a row waits for its file to settle.
type settlingError struct {
	wait   time.Duration
	reason string
}

func (e *settlingError) Error() string {
	return fmt.Sprintf("%s; looking again in %s", e.reason, e.wait.Round(time.Millisecond))
}

// settled decides whether a file with fingerprint fp may be hashed now: its
// mtime is older than the quiet period (the common case: an admin adds a
// row for a file that has been there for a while), or its size and mtime
// have not changed for a quiet period. If not, the row is set aside and
// the seeder woken when it may be.
func (s *Seeder) settled(fileID int64, fp lanseedd.Fingerprint) error {
	q := s.cfg.QuietPeriod
	now := time.Now()
	age := now.Sub(time.Unix(0, fp.MtimeNs))
	s.mu.Lock()
	defer s.mu.Unlock()
	if age >= q {
		delete(s.settling, fileID)
		return nil
	}
	st, ok := s.settling[fileID]
	if !ok || st.fp != fp {
		st = settle{fp: fp, since: now}
	}
	stable := now.Sub(st.since)
	if stable >= q {
		delete(s.settling, fileID)
		return nil
	}
	wait := q - max(age, stable)
	st.until = now.Add(wait)
	s.settling[fileID] = st
	time.AfterFunc(wait, s.Wake)
	return &settlingError{wait: wait, reason: "file was modified less than " + q.String() + " ago"}
}

// unsettled sets a row aside that changed while it was hashed.
func (s *Seeder) unsettled(fileID int64, fp lanseedd.Fingerprint) error {
	wait := max(s.cfg.QuietPeriod, time.Second)
	now := time.Now()
	s.mu.Lock()
	s.settling[fileID] = settle{fp: fp, since: now, until: now.Add(wait)}
	s.mu.Unlock()
	time.AfterFunc(wait, s.Wake)
	return &settlingError{wait: wait, reason: "file changed while it was hashed"}
}

// requeue sends a row back to pending, so that admins see it is being
// redone, and wakes the seeder.
func (s *Seeder) requeue(ctx context.Context, fileID int64, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if row, err := s.cat.Get(ctx, fileID); err == nil && row.Foreign {
		// Another node hashed the row: what changed is this node's copy,
		// which is checked again (and seeded again if it is the row's).
		s.unseed(fileID, metainfo.Hash{})
		s.log.Info("this node's copy changed; checking it again", "file_id", fileID, "path", row.Path, "reason", reason)
		row.Here = ""
		s.queueCheck(ctx, row, false)
		return nil
	}
	if err := s.cat.Requeue(ctx, fileID, reason); err != nil {
		return err
	}
	s.Wake()
	return nil
}
