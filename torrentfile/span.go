package torrentfile

import (
	"fmt"
	"io"
	"sort"
)

// EachSpan calls fn for each file under the byte range [off, off+length) of
// the files' concatenation, with the offset and length inside that file.
func EachSpan(files []File, off, length int64, fn func(fl *File, fileOff, n int64) error) error {
	i := sort.Search(len(files), func(i int) bool { return files[i].Offset+files[i].Length > off })
	for length > 0 {
		if i >= len(files) {
			return fmt.Errorf("read at %d: %w", off, io.ErrUnexpectedEOF)
		}
		fl := &files[i]
		if n := min(length, fl.Offset+fl.Length-off); n > 0 {
			if err := fn(fl, off-fl.Offset, n); err != nil {
				return err
			}
			off, length = off+n, length-n
		}
		i++
	}
	return nil
}
