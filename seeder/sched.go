package seeder

import "context"

// smallFile is the size under which a row may hash in the small lane: at
// ~1 GB/s a file under it hashes in well under a second, so the lane
// frees up at once, while one of 4 GB holds a slot for seconds.
const smallFile = 64 << 20

// hashSlot waits for a hashing slot for total bytes of content and returns
// the function that gives it back. A small file takes whichever slot frees
// first, including the small lane that big files never take, so that small
// rows never wait behind a few huge hashes (6-byte rows used to wait 40 s
// behind two 4 GB files).
func (s *Seeder) hashSlot(ctx context.Context, total int64) (func(), error) {
	if total >= smallFile {
		select {
		case s.hashing <- struct{}{}:
			return func() { <-s.hashing }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	case s.smallLane <- struct{}{}:
		return func() { <-s.smallLane }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
