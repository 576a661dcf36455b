package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lanseedd/lanseedd"
)

// finishGroup records the results of concurrent Finish calls on a SQLite
// catalog together: the first caller commits what waits in one
// transaction, with one prepared statement, while later callers queue for
// the next. SQLite writes one transaction at a time, and each row's
// update rewrites the same index pages: committed one by one, they bound
// the publishing of many small files.
type finishGroup struct {
	mu       sync.Mutex
	waiting  []*finishCall
	flushing bool
}

type finishCall struct {
	r    lanseedd.Result
	ok   bool
	err  error
	done chan struct{}
}

// maxFinishBatch bounds the results of one transaction.
const maxFinishBatch = 256

func (g *finishGroup) finish(ctx context.Context, s *Store, r lanseedd.Result) (bool, error) {
	c := &finishCall{r: r, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	lead := !g.flushing
	g.flushing = true
	g.mu.Unlock()
	if lead {
		// The batches carry other callers' results: they outlive the
		// leader's context.
		g.flush(context.WithoutCancel(ctx), s)
	}
	select {
	case <-c.done:
		return c.ok, c.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// flush commits batches until nothing waits.
func (g *finishGroup) flush(ctx context.Context, s *Store) {
	for {
		g.mu.Lock()
		n := min(len(g.waiting), maxFinishBatch)
		batch := g.waiting[:n:n]
		g.waiting = g.waiting[n:]
		if n == 0 {
			g.flushing = false
			g.waiting = nil
		}
		g.mu.Unlock()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		if len(batch) == 1 || s.finishBatch(ctx, batch) != nil {
			// One by one, each with the retries of a statement of its own.
			for _, c := range batch {
				c.ok, c.err = s.finishOne(ctx, c.r)
			}
		}
		cancel()
		for _, c := range batch {
			close(c.done)
		}
	}
}

// finishBatch records a batch of results in one transaction.
func (s *Store) finishBatch(ctx context.Context, batch []*finishCall) error {
	s.writes.Lock()
	defer s.writes.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.d.rebind(s.finishSQL()))
	if err != nil {
		return err
	}
	defer stmt.Close()
	ok := make([]bool, len(batch))
	for i, c := range batch {
		res, err := stmt.ExecContext(ctx, finishArgs(c.r)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		ok[i] = n == 1
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record results: %w", err)
	}
	for i, c := range batch {
		c.ok = ok[i]
	}
	return nil
}
