package seeder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lanseedd/lanseedd"
)

// A ready row another node hashed (Row.Foreign) is seeded here only once
// this node has hashed its own copy of the row's path and found the same
// torrent: it then records its copy as seeding, with its own fingerprint,
// and the row is restored, swept and loaded like the rows it hashed. A
// copy of other bytes is recorded as a conflict and never seeded here,
// and a change of it is checked again, not made the row's: the row keeps
// the infohash the node that hashed it gave it.

// foreignPage is how many rows made ready are read at once.
const foreignPage = 500

// lookReadied checks this node's copy of the rows other nodes made ready
// since it last looked. The first look only notes where to start: the
// rows made ready before are looked at by the restore and the sweep.
func (s *Seeder) lookReadied(ctx context.Context) {
	if s.readiedAt.IsZero() {
		at, id, err := s.cat.LastReadied(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the rows made ready failed", "err", err)
			}
			return
		}
		s.readiedAt, s.readiedID = at, id
		if at.IsZero() {
			s.readiedAt = time.Unix(0, 0).UTC()
		}
		return
	}
	for ctx.Err() == nil {
		rows, err := s.cat.Readied(ctx, s.readiedAt, s.readiedID, foreignPage)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the rows made ready failed", "err", err)
			}
			return
		}
		for _, row := range rows {
			s.readiedAt, s.readiedID = row.UpdatedAt, row.FileID
			if row.Foreign && !s.copyCurrent(row) {
				s.queueCheck(ctx, row, true)
			}
		}
		if len(rows) < foreignPage {
			return
		}
	}
}

// foreignOwn reports whether row is another node's and not seeded here
// as it is, and if so has this node's copy checked when what it recorded
// of it no longer holds. The sweep, the restore and the loads on demand
// pass over such a row.
func (s *Seeder) foreignOwn(ctx context.Context, row lanseedd.Row, wait bool) bool {
	if !row.Foreign {
		return false
	}
	if row.Here == lanseedd.CopySeeding && s.copyCurrent(row) {
		return false
	}
	if !s.copyCurrent(row) {
		s.queueCheck(ctx, row, wait)
	}
	return true
}

// copyCurrent reports whether what this node recorded of its copy of a
// foreign row still holds: its files have the fingerprint recorded, or
// there is still no file where there was none.
func (s *Seeder) copyCurrent(row lanseedd.Row) bool {
	switch row.Here {
	case "":
		return false
	case lanseedd.CopyMissing:
		abs, err := Resolve(s.cfg.ContentRoot, row.Path)
		if err == nil {
			_, err = ScanBeneath(s.cfg.ContentRoot, abs)
		}
		return errors.Is(classifyStat(err), ErrMissing)
	}
	_, err := s.unchanged(row)
	return err == nil
}

// queueCheck has this node's copy of a foreign row checked, unless it is
// being checked. While as many checks as rows in flight run, it waits, or
// without wait leaves the row to the next look. The check runs until Run
// returns, whatever ctx the caller had (a peer's load, for one).
func (s *Seeder) queueCheck(ctx context.Context, row lanseedd.Row, wait bool) {
	if run := s.runCtx.Load(); run != nil {
		ctx = *run
	}
	s.mu.Lock()
	if s.checking[row.FileID] || ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.checking[row.FileID] = true
	s.mu.Unlock()
	if !s.checkSlot(ctx, wait) {
		s.mu.Lock()
		delete(s.checking, row.FileID)
		s.mu.Unlock()
		return
	}
	s.checks.Go(func() {
		defer func() {
			<-s.checkSlots
			s.mu.Lock()
			delete(s.checking, row.FileID)
			s.mu.Unlock()
		}()
		s.checkCopy(ctx, row)
	})
}

// checkCopy hashes this node's copy of a foreign row and records what it
// found; the same torrent is then seeded here.
func (s *Seeder) checkCopy(ctx context.Context, row lanseedd.Row) {
	log := s.log.With("file_id", row.FileID, "path", row.Path, "hashed_on", row.Node)
	l, mi, err := s.build(ctx, row)
	c := lanseedd.Copy{FileID: row.FileID, RowInfoHash: row.InfoHash}
	var settling *settlingError
	switch {
	case ctx.Err() != nil:
		return
	case errors.As(err, &settling):
		time.AfterFunc(settling.wait, func() { s.queueCheck(ctx, row, true) })
		return
	case errors.Is(err, ErrMissing):
		c.State, c.Error = lanseedd.CopyMissing, err.Error()
	case err != nil:
		c.State, c.Error, c.Fingerprint = lanseedd.CopyError, err.Error(), l.Fingerprint
	default:
		c.InfoHash, c.Fingerprint = mi.HashInfoBytes().HexString(), l.Fingerprint
		c.State = lanseedd.CopySeeding
		if c.InfoHash != row.InfoHash {
			c.State = lanseedd.CopyConflict
			c.Error = fmt.Sprintf("this node's copy is other bytes (infohash %s) than the row's, hashed on node %s (infohash %s); it is not seeded here",
				c.InfoHash, row.Node, row.InfoHash)
		} else if err := writeTorrent(s.TorrentFile(row.FileID), mi); err != nil {
			s.state.failed(err)
			return
		}
	}
	if err := s.cat.RecordCopy(ctx, c); err != nil {
		if ctx.Err() == nil {
			log.Warn("cannot record this node's copy; checked again at the next sweep", "err", err)
		}
		return
	}
	switch c.State {
	case lanseedd.CopyMissing:
		log.Info("no copy of the row on this node", "err", c.Error)
		return
	case lanseedd.CopyConflict, lanseedd.CopyError:
		log.Warn("this node's copy is not the row's; not seeding it here", "copy", c.State, "err", c.Error)
		return
	}
	row.Here, row.Fingerprint = c.State, c.Fingerprint
	ih := mi.HashInfoBytes()
	if s.cfg.Load == LoadEager || s.cl.seeding(ih) {
		if err := s.seedRow(row, mi, l); err != nil {
			log.Warn("cannot seed this node's copy", "err", err)
			return
		}
		s.watch.track(row.FileID, row.Path, lanseedd.StateReady, &l)
	} else {
		s.watch.watchLayout(&l)
	}
	s.published(ih, row)
	log.Info("this node's copy is the row's; seeding it", "infohash", row.InfoHash)
}

// checkSlot takes a slot for a check: at once, or waiting with wait.
func (s *Seeder) checkSlot(ctx context.Context, wait bool) bool {
	if !wait {
		select {
		case s.checkSlots <- struct{}{}:
			return true
		default:
			return false
		}
	}
	select {
	case s.checkSlots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}
