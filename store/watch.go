package store

import (
	"context"
	"fmt"
	"time"
)

// Watch calls wake whenever the catalog may have changed, and runs the full
// catalog comparison every ResyncInterval. It returns nil when ctx is done.
// Wake-ups carry no data: the caller reads Work.
func (s *Store) Watch(ctx context.Context, wake func()) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("watch catalog: %w", err)
	}
	defer conn.Close()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()

	// PRAGMA data_version changes on this connection whenever another one
	// commits: a poll costs no table read.
	var last int64 = -1
	failing := false
	for {
		var v int64
		err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				s.log.Warn("polling the catalog failed; retrying", "err", err)
				failing = true
			}
		default:
			if failing {
				s.log.Info("catalog reachable again")
				failing = false
				wake()
			}
			if v != last {
				last = v
				wake()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-resync.C:
			n, err := s.Resync(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("catalog comparison failed", "err", err)
			} else if n > 0 {
				s.log.Info("catalog comparison found changes the triggers missed", "rows", n)
				wake()
			}
		}
	}
}
