package seeder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// A ready row another node hashed (Row.Foreign) is seeded here only once
// this node has hashed its own copy of the row's path and found the same
// torrent: it then records its copy as seeding, with its own fingerprint,
// and the row is restored, swept and loaded like the rows it hashed. A
// copy of other bytes is recorded as a conflict and never seeded here,
// and a change of it is checked again, not made the row's: the row keeps
// the infohash the node that hashed it gave it.

// foreignPage is how many changed rows are read at once.
const foreignPage = 500

// cursor is where a look at the rows changed into a state ended: the
// last row's change time and id; zero before the first look.
type cursor struct {
	at time.Time
	id int64
}

// lookChanged looks at the rows changed since it last looked: it checks
// this node's copy of those other nodes made ready, and takes the rows
// another node found missing whose file is here.
func (s *Seeder) lookChanged(ctx context.Context) {
	since := s.othersSince.Load()
	if since == 0 {
		return // alone on the catalog: no row another node changed
	}
	// Rows changed before the others came up were this node's own: a
	// look starts no earlier (the clocks are the catalog's).
	from := time.Unix(0, since).Add(-time.Second).UTC()
	for _, c := range []*cursor{&s.readied, &s.missing, &s.deleted, &s.expired} {
		if !c.at.IsZero() && c.at.Before(from) {
			*c = cursor{at: from}
		}
	}
	s.look(ctx, lanseedd.StateReady, &s.readied, func(row lanseedd.Row) {
		if row.Foreign && !s.copyCurrent(row) {
			s.queueCheck(ctx, row, true)
		}
	})
	if s.cfg.Mirror {
		drop := func(row lanseedd.Row) { s.dropMirrored(row.FileID, "the row is "+string(row.State)) }
		s.look(ctx, lanseedd.StateDeleted, &s.deleted, drop)
		s.look(ctx, lanseedd.StateExpired, &s.expired, drop)
		return
	}
	// A row deleted is dropped at once, whichever node forgets its
	// tombstone (one only does).
	s.look(ctx, lanseedd.StateDeleted, &s.deleted, func(row lanseedd.Row) {
		s.unseed(row.FileID, metainfo.Hash{})
	})
	s.look(ctx, lanseedd.StateMissing, &s.missing, func(row lanseedd.Row) {
		if row.Node == "" || row.Node == s.cfg.Node {
			return
		}
		if _, err := torrentfile.Resolve(s.cfg.ContentRoot, row.Path); err == nil {
			s.log.Info("another node found no file; it is here", "file_id", row.FileID, "path", row.Path, "node", row.Node)
			if err := s.requeue(ctx, row.FileID, ""); err != nil && ctx.Err() == nil {
				s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
			}
		}
	})
}

// startLooks notes, as the seeder starts, where the looks at the rows
// changed start: the rows changed before are looked at by the restore and
// the sweep (ready), by the retry of missing rows, and by the removal of
// stray mirrored copies.
func (s *Seeder) startLooks(ctx context.Context) {
	for _, c := range []struct {
		state lanseedd.State
		c     *cursor
	}{{lanseedd.StateReady, &s.readied}, {lanseedd.StateMissing, &s.missing},
		{lanseedd.StateDeleted, &s.deleted}, {lanseedd.StateExpired, &s.expired}} {
		s.look(ctx, c.state, c.c, nil)
	}
}

// look passes the rows changed into state after c to f, and moves c on.
// The first look only notes where to start (see startLooks).
func (s *Seeder) look(ctx context.Context, state lanseedd.State, c *cursor, f func(lanseedd.Row)) {
	if c.at.IsZero() {
		at, id, err := s.cat.LastChanged(ctx, state)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the rows changed failed", "state", state, "err", err)
			}
			return
		}
		*c = cursor{at, id}
		if at.IsZero() {
			c.at = time.Unix(0, 0).UTC()
		}
		return
	}
	for ctx.Err() == nil {
		rows, err := s.cat.ChangedSince(ctx, state, c.at, c.id, foreignPage)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading the rows changed failed", "state", state, "err", err)
			}
			return
		}
		for _, row := range rows {
			*c = cursor{row.UpdatedAt, row.FileID}
			f(row)
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
		abs, err := torrentfile.Resolve(s.cfg.ContentRoot, row.Path)
		if err == nil {
			_, err = torrentfile.ScanBeneath(s.cfg.ContentRoot, abs)
		}
		return errors.Is(torrentfile.Classify(err), torrentfile.ErrMissing)
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
	if s.cfg.Mirror && (errors.Is(err, torrentfile.ErrMissing) || (err == nil && mi.HashInfoBytes().HexString() != row.InfoHash)) {
		// No copy, or one of another version: fetched from the swarm.
		if l, mi, err = s.fetch(ctx, row); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errStalled) {
				// What the partial download holds is verified again
				// and kept.
				log.Warn("fetch stalled; trying again", "err", err)
				time.AfterFunc(time.Second, func() { s.queueCheck(ctx, row, true) })
				return
			}
			log.Warn("cannot fetch the row into the mirror root; trying again at the next sweep", "err", err)
			return
		}
	}
	c := lanseedd.Copy{FileID: row.FileID, RowInfoHash: row.InfoHash}
	var settling *settlingError
	switch {
	case ctx.Err() != nil:
		return
	case errors.As(err, &settling):
		time.AfterFunc(settling.wait, func() { s.queueCheck(ctx, row, true) })
		return
	case errors.Is(err, torrentfile.ErrMissing):
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
