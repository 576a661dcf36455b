package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrCatalogReplaced says the SQLite catalog file was deleted or replaced
// under the running daemon: it would go on with the file it has open,
// which nothing else sees any more, while the site writes to the new one.
var ErrCatalogReplaced = errors.New("the catalog file was deleted or replaced while lanseedd had it open")

// fileIdentity is a file's device and inode.
type fileIdentity struct{ dev, ino uint64 }

func identityOf(path string) (fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}, fmt.Errorf("stat %s: no device and inode", path)
	}
	return fileIdentity{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// checkFile reports ErrCatalogReplaced when the SQLite catalog's path no
// longer names the file opened; nil for a server catalog.
func (s *Store) checkFile() error {
	if s.d.name != "sqlite" || s.opened == (fileIdentity{}) {
		return nil
	}
	now, err := identityOf(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %s is gone", ErrCatalogReplaced, s.path)
	case err != nil:
		// Unreadable for a moment, perhaps: not proof of a replacement.
		return nil
	case now != s.opened:
		return fmt.Errorf("%w: %s is another file now (inode %d, was %d)", ErrCatalogReplaced, s.path, now.ino, s.opened.ino)
	}
	return nil
}
