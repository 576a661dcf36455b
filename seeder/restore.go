package seeder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// restore re-adds the ready rows whose files are unchanged since they were
// hashed, from their stored .torrent and without reading content; others go
// back to pending. Missing rows and empty files are watched again. Stray
// .torrent files are removed.
func (s *Seeder) restore(ctx context.Context) error {
	rows, err := s.cat.Rows(ctx)
	if err != nil {
		return err
	}
	// anacrolix v1.61 finds out whether it knows a torrent's tracker
	// announce state by scanning its ordered index from the infohash to the
	// end (indexed.Map.Get does not stop at a greater key): adding torrents
	// in random order costs O(n) each, minutes for 10,000. In infohash
	// order each scan ends at once.
	slices.SortFunc(rows, func(a, b lanseedd.Row) int { return strings.Compare(a.InfoHash, b.InfoHash) })
	known := make(map[int64]bool, len(rows))
	restored := 0
	for _, row := range rows {
		// An expired row's .torrent is not served: it is removed below.
		known[row.FileID] = row.State != lanseedd.StateExpired
		switch row.State {
		case lanseedd.StateMissing:
			s.watch.track(row.FileID, row.Path, row.State, nil)
			continue
		case lanseedd.StateError:
			switch {
			case row.Fingerprint != (lanseedd.Fingerprint{}):
				s.restoreEmpty(ctx, row)
			case !permanent(s.cfg.ContentRoot, row.Path):
				// What failed before the restart may have passed.
				if err := s.cat.Requeue(ctx, row.FileID, "retrying after a restart"); err != nil {
					return err
				}
			}
			continue
		case lanseedd.StateReady:
		default:
			continue
		}
		if s.foreignOwn(ctx, row, true) {
			continue
		}
		if err := s.restoreRow(row); err != nil {
			s.log.Info("rehashing row", "file_id", row.FileID, "path", row.Path, "reason", err)
			if err := s.cat.Requeue(ctx, row.FileID, ""); err != nil {
				return err
			}
			continue
		}
		restored++
	}
	entries, err := os.ReadDir(s.torrents)
	if err != nil {
		return err
	}
	for _, e := range entries {
		idText, ok := strings.CutSuffix(e.Name(), ".torrent")
		id, err := strconv.ParseInt(idText, 10, 64)
		if ok && err == nil && known[id] {
			continue
		}
		os.Remove(filepath.Join(s.torrents, e.Name()))
	}
	s.log.Info("restored seeded torrents", "count", restored)
	return nil
}

// restoreEmpty watches a row left in error because of its file's content
// (empty, refused by the validator, outside the size limits), or requeues it
// if the file changed while lanseedd was stopped.
func (s *Seeder) restoreEmpty(ctx context.Context, row lanseedd.Row) {
	var l torrentfile.Layout
	abs, err := torrentfile.Resolve(s.cfg.ContentRoot, row.Path)
	if err == nil {
		l, err = torrentfile.ScanBeneath(s.cfg.ContentRoot, abs)
	}
	// Gone or changed while lanseedd was stopped: worked on again (it
	// becomes missing, or is published), as nothing else would look.
	if err != nil || l.Fingerprint != row.Fingerprint {
		if err := s.cat.Requeue(ctx, row.FileID, ""); err != nil {
			s.log.Warn("requeue failed", "file_id", row.FileID, "err", err)
		}
		return
	}
	s.watch.track(row.FileID, row.Path, row.State, &l)
}

func (s *Seeder) restoreRow(row lanseedd.Row) error {
	mi, l, err := s.prepare(row, true)
	if err != nil {
		return err
	}
	return s.seedRow(row, mi, l)
}

// errContentChanged says a ready row's files are not those it was hashed
// from.
var errContentChanged = errors.New("content changed since it was hashed")

// unchanged stats a ready row's files (nothing of them is read) and
// returns their layout, or errContentChanged if they are not those it was
// hashed from.
func (s *Seeder) unchanged(row lanseedd.Row) (torrentfile.Layout, error) {
	abs, err := torrentfile.Resolve(s.cfg.ContentRoot, row.Path)
	if err != nil {
		return torrentfile.Layout{}, err
	}
	l, err := torrentfile.ScanBeneath(s.cfg.ContentRoot, abs)
	if err != nil {
		return torrentfile.Layout{}, err
	}
	if l.Fingerprint != row.Fingerprint {
		return torrentfile.Layout{}, errContentChanged
	}
	return l, nil
}

// prepare checks a ready row against its files' stat data (nothing of them
// is read) and returns its stored torrent and layout, for loading. With
// rewrite, the stored .torrent is rewritten if the announce or web seed
// URLs changed in the configuration.
func (s *Seeder) prepare(row lanseedd.Row, rewrite bool) (*metainfo.MetaInfo, torrentfile.Layout, error) {
	l, err := s.unchanged(row)
	if err != nil {
		return nil, torrentfile.Layout{}, err
	}
	path := s.TorrentFile(row.FileID)
	stored, err := os.ReadFile(path)
	if err != nil {
		return nil, torrentfile.Layout{}, err
	}
	mi, err := metainfo.Load(bytes.NewReader(stored))
	if err != nil {
		return nil, torrentfile.Layout{}, fmt.Errorf("%s: %w", path, err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, torrentfile.Layout{}, fmt.Errorf("%s: %w", path, err)
	}
	if ih := mi.HashInfoBytes(); ih.HexString() != row.InfoHash {
		return nil, torrentfile.Layout{}, fmt.Errorf("stored .torrent has infohash %s, catalog says %s", ih.HexString(), row.InfoHash)
	}
	if l, err = l.InOrderOf(&info); err != nil {
		return nil, torrentfile.Layout{}, err
	}
	if rewrite {
		if err := s.rewriteURLs(path, stored, row, mi); err != nil {
			return nil, torrentfile.Layout{}, err
		}
	}
	return mi, l, nil
}

// rewriteURLs rewrites a stored .torrent if the announce or web seed URLs
// of the configuration are not those it has. They are outside the info
// dictionary, so the infohash stays.
func (s *Seeder) rewriteURLs(path string, stored []byte, row lanseedd.Row, mi *metainfo.MetaInfo) error {
	mi = MetaInfo(mi.InfoBytes, s.announce, s.webSeedsOf(row))
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		return err
	}
	if !bytes.Equal(buf.Bytes(), stored) {
		if err := writeFileAtomic(path, buf.Bytes(), false); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
