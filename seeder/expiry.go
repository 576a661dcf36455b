package seeder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
)

// checkExpiry withdraws the ready rows past their expiry and sends the
// expired rows whose expiry moved into the future (or whose policy was
// lifted) back to pending, to be published again.
func (s *Seeder) checkExpiry(ctx context.Context) {
	maxAge := s.cfg.Publish.MaxAge
	rows, err := s.cat.Expiring(ctx, maxAge)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading expiries failed; checked again later", "err", err)
		}
		return
	}
	for _, row := range rows {
		why := s.cfg.Publish.Expired(row, time.Now())
		if why == "" {
			// The database's clock is ahead of ours.
			why = "past its expiry"
		}
		if err := s.withdraw(ctx, row, why); err != nil && ctx.Err() == nil {
			s.log.Warn("withdrawing an expired torrent failed; tried again later", "file_id", row.FileID, "err", err)
		}
	}
	back, err := s.cat.Unexpiring(ctx, maxAge)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading expired rows failed; checked again later", "err", err)
		}
		return
	}
	for _, row := range back {
		if err := s.cat.Requeue(ctx, row.FileID, ""); err != nil {
			s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
			continue
		}
		s.log.Info("expiry moved into the future; publishing again", "file_id", row.FileID, "path", row.Path)
	}
	if len(back) > 0 {
		s.Wake()
	}
}

// withdraw records row as expired, then drops its torrent from the client
// (and so from a catalog-only tracker's allow-set) and removes its .torrent.
// The row keeps its infohash, for the catalog site's history; the catalog
// row itself is never touched.
func (s *Seeder) withdraw(ctx context.Context, row lanseedd.Row, why string) error {
	ok, err := s.cat.Finish(ctx, lanseedd.Result{
		FileID: row.FileID, Generation: row.Generation, State: lanseedd.StateExpired,
		InfoHash: row.InfoHash, Name: row.Name, Size: row.Size, Magnet: row.Magnet,
		Fingerprint: row.Fingerprint, Error: why,
	})
	if err != nil {
		return err
	}
	if !ok {
		return nil // the row changed meanwhile: it is worked on as pending
	}
	s.unseed(row.FileID, metainfo.Hash{})
	if err := os.Remove(s.TorrentFile(row.FileID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove .torrent: %w", err)
	}
	s.watch.forget(row.FileID)
	s.log.Info("torrent withdrawn: expired", "file_id", row.FileID, "path", row.Path, "reason", why)
	return nil
}
