package seeder

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// sweepPage is how many rows a sweep reads at once: memory stays the same
// at any catalog size.
const sweepPage = 1000

// restoreDemand is restore for demand mode: nothing is loaded, as the
// catalog says which rows are ready and our tracker lists this seeder for
// them from the first second. Rows in error or missing are looked at as in
// eager mode (there are few), and stray .torrent files are removed, a
// page of directory entries at a time. The ready rows' files are checked
// by the first sweep, which runs meanwhile.
func (s *Seeder) restoreDemand(ctx context.Context) error {
	var after int64
	for {
		rows, err := s.cat.Scan(ctx, after, sweepPage, lanseedd.StateMissing, lanseedd.StateError)
		if err != nil {
			return err
		}
		for _, row := range rows {
			after = row.FileID
			if err := s.restoreUnready(ctx, row); err != nil {
				return err
			}
		}
		if len(rows) < sweepPage {
			break
		}
	}
	return s.removeStrays(ctx)
}

// restoreUnready watches a missing row or one in error again, or requeues
// it if what failed may have passed.
func (s *Seeder) restoreUnready(ctx context.Context, row lanseedd.Row) error {
	switch {
	case row.State == lanseedd.StateMissing:
		s.watch.track(row.FileID, row.Path, row.State, nil)
	case row.Fingerprint != (lanseedd.Fingerprint{}):
		s.restoreEmpty(ctx, row)
	case !permanent(s.cfg.ContentRoot, row.Path):
		return s.cat.Requeue(ctx, row.FileID, "retrying after a restart")
	}
	return nil
}

// removeStrays removes the .torrent files of rows that are gone or
// expired, reading the directory and the catalog a page at a time.
func (s *Seeder) removeStrays(ctx context.Context) error {
	dir, err := os.Open(s.torrents)
	if err != nil {
		return err
	}
	defer dir.Close()
	for {
		names, err := dir.Readdirnames(sweepPage)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(names))
		for _, n := range names {
			if idText, ok := strings.CutSuffix(n, ".torrent"); ok {
				if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
					ids = append(ids, id)
				}
			}
		}
		states, err := s.cat.States(ctx, ids)
		if err != nil {
			return err
		}
		for _, n := range names {
			idText, ok := strings.CutSuffix(n, ".torrent")
			id, err := strconv.ParseInt(idText, 10, 64)
			if st, known := states[id]; ok && err == nil && known && st != lanseedd.StateExpired && st != lanseedd.StateDeleted {
				continue
			}
			os.Remove(filepath.Join(s.torrents, n))
		}
	}
}

// sweep stats the files of every ready row that is not loaded (the
// filesystem watch covers those) and sends back to pending those whose
// files changed: in demand mode, it is what the periodic rescan is for
// rows nobody downloads. With rewrite (the first sweep after a start), it
// also rewrites the .torrent files whose URLs the configuration changed.
// Nothing of content is read.
func (s *Seeder) sweep(ctx context.Context, rewrite bool) {
	start := time.Now()
	var st lanseedd.SweepStats
	var after int64
	for ctx.Err() == nil {
		rows, err := s.cat.Scan(ctx, after, sweepPage, lanseedd.StateReady)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("sweeping ready rows failed; next sweep at the rescan interval", "err", err)
			}
			return
		}
		for _, row := range rows {
			after = row.FileID
			st.Rows++
			var ih metainfo.Hash
			if ih.FromHexString(row.InfoHash) == nil && s.cl.seeding(ih) {
				continue
			}
			if s.foreignOwn(ctx, row, true) {
				continue
			}
			_, l, err := s.prepareChecked(row, rewrite)
			if err == nil {
				s.watch.watchLayout(&l)
				continue
			}
			st.Requeued++
			s.withdrawn(ih)
			reason := "file changed on disk since it was hashed; rehashing"
			if !errors.Is(err, errContentChanged) {
				reason = ""
				s.log.Info("rehashing row", "file_id", row.FileID, "path", row.Path, "reason", err)
			}
			if err := s.cat.Requeue(ctx, row.FileID, reason); err != nil && ctx.Err() == nil {
				s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
			}
		}
		if len(rows) < sweepPage {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	took := time.Since(start)
	st.Seconds, st.At = took.Seconds(), time.Now()
	s.sweepStats.Store(&st)
	if st.Requeued > 0 {
		s.Wake()
	}
	s.log.Info("swept ready rows", "rows", st.Rows, "requeued", st.Requeued, "took", took.Round(time.Millisecond),
		"stats_per_second", int64(float64(st.Rows)/max(took.Seconds(), 1e-3)))
}

// prepareChecked is prepare for the sweep: with rewrite the .torrent is
// read and rewritten if need be; without, only the files are stat'ed.
func (s *Seeder) prepareChecked(row lanseedd.Row, rewrite bool) (*metainfo.MetaInfo, torrentfile.Layout, error) {
	if rewrite {
		return s.prepare(row, true)
	}
	l, err := s.unchanged(row)
	return nil, l, err
}

// lastSweep returns the figures of the last complete sweep (zero before
// the first).
func (s *Seeder) lastSweep() lanseedd.SweepStats {
	if p := s.sweepStats.Load(); p != nil {
		return *p
	}
	return lanseedd.SweepStats{}
}

// checkPaths looks at the ready rows, not loaded, that filesystem events
// on paths (absolute) concern: rows of those paths and of the directories
// above them (directory rows). Those whose files changed or went away go
// back to pending.
func (s *Seeder) checkPaths(ctx context.Context, paths []string) {
	seen := make(map[string]bool)
	var rels []string
	for _, p := range paths {
		rel, err := filepath.Rel(s.cfg.ContentRoot, p)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		for ; rel != "." && !seen[rel]; rel = filepath.Dir(rel) {
			seen[rel] = true
			rels = append(rels, rel)
		}
	}
	for len(rels) > 0 {
		batch := rels[:min(len(rels), 500)]
		rels = rels[len(batch):]
		rows, err := s.cat.ReadyByPaths(ctx, batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("looking up changed files in the catalog failed; the rescan will see them", "err", err)
			}
			return
		}
		for _, row := range rows {
			var ih metainfo.Hash
			if ih.FromHexString(row.InfoHash) == nil && s.cl.seeding(ih) {
				continue // watched by the rows it has loaded
			}
			if s.foreignOwn(ctx, row, true) {
				continue
			}
			_, _, err := s.prepareChecked(row, false)
			if err == nil {
				continue
			}
			s.withdrawn(ih)
			reason := "file changed on disk"
			if !errors.Is(err, errContentChanged) {
				reason = "file is gone"
			}
			if err := s.cat.Requeue(ctx, row.FileID, reason); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
				}
				continue
			}
			s.log.Info("content changed on disk; rehashing", "file_id", row.FileID, "path", row.Path, "reason", reason)
			s.Wake()
		}
	}
}
