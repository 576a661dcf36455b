package torrentfile

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd"
)

// ErrMismatch says a row's files no longer match its stored torrent.
var ErrMismatch = errors.New("content does not match the stored torrent")

// Verify re-hashes the files of a ready row under root and compares them
// with its stored .torrent. It returns the bytes hashed, and an error
// wrapping ErrMismatch (or ErrMissing) when the row must be redone.
func Verify(ctx context.Context, root, torrentFile string, row lanseedd.Row, workers int) (int64, error) {
	mi, err := metainfo.LoadFromFile(torrentFile)
	if err != nil {
		return 0, fmt.Errorf("%w: stored .torrent unreadable: %w", ErrMismatch, err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return 0, fmt.Errorf("%w: stored .torrent unreadable: %w", ErrMismatch, err)
	}
	abs, err := Resolve(root, row.Path)
	if err != nil {
		return 0, err
	}
	l, err := ScanBeneath(root, abs)
	if errors.Is(err, ErrChanged) {
		return 0, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	if err != nil {
		return 0, Classify(err)
	}
	if l, err = l.InOrderOf(&info); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	pieces, err := HashPieces(ctx, l.Files, l.Total, info.PieceLength, workers, nil)
	if err != nil {
		return l.Total, fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	if !bytes.Equal(pieces, info.Pieces) {
		bad := 0
		for i := 0; i*sha1.Size < len(pieces); i++ {
			if !bytes.Equal(pieces[i*sha1.Size:(i+1)*sha1.Size], info.Pieces[i*sha1.Size:(i+1)*sha1.Size]) {
				bad++
			}
		}
		return l.Total, fmt.Errorf("%w: %d of %d pieces differ", ErrMismatch, bad, info.NumPieces())
	}
	return l.Total, nil
}
