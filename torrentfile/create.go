package torrentfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// ErrEmpty says a row names an empty file (or a directory of empty files).
// mktorrent makes a torrent of 0 pieces from one, and anacrolix and aria2
// take it, but libtorrent (qBittorrent, Deluge) refuses it: "invalid length
// of torrent". So lanseedd publishes nothing and says so; the file is
// watched and hashed once it has content. `lanseedd create` still makes
// such a torrent, as mktorrent does.
var ErrEmpty = errors.New("nothing to seed: the file is empty (qBittorrent and other libtorrent clients refuse 0-byte torrents)")

// CreateOptions are the choices of a torrent made by Create.
type CreateOptions struct {
	// PieceLength is a power of two from 16 KiB to 16 MiB; 0 chooses one
	// (see PieceLength).
	PieceLength int64
	// Announce holds tiers of tracker URLs; the first URL is also the
	// torrent's announce.
	Announce [][]string
	// WebSeeds are BEP 19 URLs.
	WebSeeds []string
	Private  bool
	// Source is written into the info dictionary (as mktorrent -s does), so
	// that the same files give another infohash.
	Source  string
	Comment string
	// CreationDate is written unless zero.
	CreationDate time.Time
	// Workers is how many goroutines hash; 0 means one per core.
	Workers int
	// Progress, if not nil, is called with the bytes hashed so far.
	Progress func(done, total int64)
}

// Create hashes a file or directory and returns its torrent. The info
// dictionary is canonical, as mktorrent writes it: the same files, name,
// piece length, private flag and source give the same infohash.
func Create(ctx context.Context, path string, o CreateOptions) (*metainfo.MetaInfo, error) {
	if o.PieceLength != 0 && !ValidPieceLength(o.PieceLength) {
		return nil, fmt.Errorf("piece length %d: must be a power of two from 16 KiB to 16 MiB", o.PieceLength)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	l, err := Scan(abs)
	if err != nil {
		return nil, err
	}
	if l.Total == 0 {
		// As the daemon refuses such a row: clients reject the result.
		return nil, fmt.Errorf("%w: %s", ErrEmpty, abs)
	}
	pl := o.PieceLength
	if pl == 0 {
		pl = PieceLength(l.Total)
	}
	var progress func(int64)
	if o.Progress != nil {
		progress = func(done int64) { o.Progress(done, l.Total) }
	}
	pieces, err := HashPieces(ctx, l.Files, l.Total, pl, o.Workers, progress)
	if err != nil {
		return nil, err
	}
	info := &metainfo.Info{Name: l.Name, PieceLength: pl, Pieces: pieces, Source: o.Source}
	if l.Dir {
		for _, f := range l.Files {
			info.Files = append(info.Files, metainfo.FileInfo{Length: f.Length, Path: f.Path})
		}
	} else {
		info.Length = l.Total
	}
	if o.Private {
		info.Private = new(true)
	}
	ib, err := InfoBytes(info)
	if err != nil {
		return nil, err
	}
	mi := &metainfo.MetaInfo{InfoBytes: ib, CreatedBy: "lanseedd", Comment: o.Comment}
	if len(o.WebSeeds) > 0 {
		mi.UrlList = o.WebSeeds // never an empty url-list key
	}
	if !o.CreationDate.IsZero() {
		mi.CreationDate = o.CreationDate.Unix()
	}
	if len(o.Announce) > 0 && len(o.Announce[0]) > 0 {
		mi.Announce = o.Announce[0][0]
		if len(o.Announce) > 1 || len(o.Announce[0]) > 1 {
			mi.AnnounceList = o.Announce
		}
	}
	return mi, nil
}

// InfoBytes bencodes an info dictionary canonically: keys in byte order,
// only the fields lanseedd sets (name, piece length, pieces, length or
// files, private, source), and "length" even when it is 0, as mktorrent
// does for an empty file.
func InfoBytes(info *metainfo.Info) ([]byte, error) {
	if info.PieceLength <= 0 {
		return nil, fmt.Errorf("encode info: piece length %d", info.PieceLength)
	}
	var b bytes.Buffer
	b.WriteByte('d')
	if info.IsDir() {
		benString(&b, "files")
		b.WriteByte('l')
		for _, f := range info.Files {
			b.WriteByte('d')
			benString(&b, "length")
			benInt(&b, f.Length)
			benString(&b, "path")
			b.WriteByte('l')
			for _, c := range f.Path {
				benString(&b, c)
			}
			b.WriteString("ee")
		}
		b.WriteByte('e')
	} else {
		benString(&b, "length")
		benInt(&b, info.Length)
	}
	benString(&b, "name")
	benString(&b, info.Name)
	benString(&b, "piece length")
	benInt(&b, info.PieceLength)
	benString(&b, "pieces")
	benString(&b, string(info.Pieces))
	if info.Private != nil && *info.Private {
		benString(&b, "private")
		benInt(&b, 1)
	}
	if info.Source != "" {
		benString(&b, "source")
		benString(&b, info.Source)
	}
	b.WriteByte('e')
	return b.Bytes(), nil
}

func benString(b *bytes.Buffer, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}

func benInt(b *bytes.Buffer, n int64) {
	b.WriteByte('i')
	b.WriteString(strconv.FormatInt(n, 10))
	b.WriteByte('e')
}

// ParsePieceLength reads a piece length as a byte count with an optional
// K, M (KiB, MiB) suffix, or as mktorrent's exponent (20 means 1 MiB).
func ParsePieceLength(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("piece length %q: want bytes (262144, 256K, 1M) or a power of two's exponent (18)", s)
	}
	if mult == 1 && n > 0 && n < 64 {
		n = 1 << n
	} else {
		n *= mult
	}
	if n != 0 && !ValidPieceLength(n) {
		return 0, fmt.Errorf("piece length %q: must be a power of two from 16 KiB to 16 MiB", s)
	}
	return n, nil
}

// AnnounceTiers turns repeated -announce values into tiers, as mktorrent
// does: each value is a tier, commas separate URLs within one.
func AnnounceTiers(values []string) [][]string {
	var tiers [][]string
	for _, v := range values {
		tier := slices.DeleteFunc(strings.Split(v, ","), func(s string) bool { return strings.TrimSpace(s) == "" })
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	return tiers
}
