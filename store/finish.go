package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lanseedd/lanseedd"
)

// finishGroup records the results of concurrent Finish calls together: the
// first caller commits what waits in one transaction and one statement,
// while later callers queue for the next. Committed one by one,
// the results bound the publishing of many small files: SQLite writes one
// transaction at a time, each rewriting the same index pages, and a
// database server flushes its log at every commit.
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
		bctx, cancel := context.WithTimeout(ctx, time.Minute)
		held, err := s.finishFree(bctx, batch)
		if err != nil {
			// One by one, each with the retries of a statement of its own.
			for _, c := range batch {
				c.ok, c.err = s.finishOne(bctx, c.r)
			}
			held = nil
		}
		cancel()
		for _, c := range batch {
			if !slices.Contains(held, c) {
				close(c.done)
			}
		}
		// The rows another transaction holds (the site editing them) wait
		// for it in statements of their own, in order, without holding up
		// the batches.
		if len(held) > 0 {
			go func() {
				for _, c := range held {
					ctx, cancel := context.WithTimeout(ctx, time.Minute)
					c.ok, c.err = s.finishOne(ctx, c.r)
					cancel()
					close(c.done)
				}
			}()
		}
	}
}

// finishFree records the results of the rows no other transaction holds,
// in one transaction and one statement, and returns the others: it never
// waits for a lock while holding others, as claimTogether.
func (s *Store) finishFree(ctx context.Context, batch []*finishCall) (held []*finishCall, err error) {
	tx, unlock, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer tx.Rollback()
	ids := make([]int64, len(batch))
	for i, c := range batch {
		ids[i] = c.r.FileID
	}
	locked, err := s.lockRows(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var (
		record    []lanseedd.Result
		republish []bool
		ok        = make([]bool, len(batch))
		later     = map[int64]bool{}
	)
	// Of two results for one row, the later is recorded, as one by one.
	for i := len(batch) - 1; i >= 0; i-- {
		c := batch[i]
		l, free := locked[c.r.FileID]
		switch {
		case !free:
			held = append(held, c)
		case l.generation == c.r.Generation && l.state != lanseedd.StateDeleted && later[c.r.FileID]:
			ok[i] = true
		case l.generation == c.r.Generation && l.state != lanseedd.StateDeleted:
			later[c.r.FileID] = true
			// As finishSQL: a row made ready with another torrent is
			// published anew.
			ok[i] = true
			record = append(record, c.r)
			republish = append(republish, c.r.State == lanseedd.StateReady &&
				(!l.published || !l.infohash.Valid || l.infohash.String != c.r.InfoHash))
		}
	}
	slices.Reverse(held)
	if len(record) > 0 {
		q, args := s.finishManySQL(record, republish)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("record results: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record results: %w", err)
	}
	for i, c := range batch {
		c.ok = ok[i]
	}
	return held, nil
}

// finishManySQL is the statement that records results known to apply (their
// rows are locked and at the results' generations), with its arguments.
func (s *Store) finishManySQL(rs []lanseedd.Result, republish []bool) (string, []any) {
	cols := []string{"file_id", "republish", "state", "infohash", "name", "size", "error", "magnet",
		"fp_size", "fp_mtime_ns", "fp_inode", "fp_device", "node"}
	pgTypes := []string{"bigint", "boolean", "text", "text", "text", "bigint", "text", "text",
		"bigint", "bigint", "bigint", "bigint", "text"}
	vals := make([][]any, len(rs))
	for i, r := range rs {
		vals[i] = []any{r.FileID, republish[i], string(r.State), nullString(r.InfoHash), nullString(r.Name), r.Size,
			nullString(r.Error), nullString(r.Magnet), r.Fingerprint.Size, r.Fingerprint.MtimeNs,
			int64(r.Fingerprint.Inode), int64(r.Fingerprint.Device), nullString(s.cfg.Node)}
	}
	released := `claimed_by = NULL, claimed_until = NULL, updated_at = ` + s.d.now
	var (
		b    strings.Builder
		args []any
	)
	if s.d.name == "mysql" {
		// No UPDATE … FROM, and a joined update waits for every row its
		// plan reads, held or not: one table, each column a CASE on the
		// key. Read committed, InnoDB passes over the rows it reads that
		// another transaction holds and the WHERE leaves out.
		b.WriteString("UPDATE lanseedd_torrents SET published_at = CASE file_id")
		for i, r := range rs {
			b.WriteString(" WHEN ? THEN " + map[bool]string{true: s.d.now, false: "published_at"}[republish[i]])
			args = append(args, r.FileID)
		}
		b.WriteString(" END")
		for j, c := range cols[2:] {
			b.WriteString(", " + c + " = CASE file_id")
			for i, v := range vals {
				b.WriteString(" WHEN ? THEN ?")
				args = append(args, rs[i].FileID, v[j+2])
			}
			b.WriteString(" END")
		}
		b.WriteString(", " + released + " WHERE file_id IN (?" + strings.Repeat(", ?", len(rs)-1) + ")")
		for _, r := range rs {
			args = append(args, r.FileID)
		}
		return b.String(), args
	}
	b.WriteString("UPDATE lanseedd_torrents AS t SET ")
	for _, c := range cols[2:] {
		fmt.Fprintf(&b, "%s = v.%s, ", c, c)
	}
	b.WriteString(`published_at = CASE WHEN v.republish THEN ` + s.d.now + ` ELSE t.published_at END, ` + released)
	b.WriteString(" FROM (VALUES ")
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			if s.d.name == "postgres" {
				// Parameters in VALUES have no type of their own.
				b.WriteString("::" + pgTypes[j])
			}
		}
		b.WriteString(")")
		args = append(args, v...)
	}
	b.WriteString(") AS v(" + strings.Join(cols, ", ") + ") WHERE t.file_id = v.file_id")
	return s.d.rebind(b.String()), args
}

// beginWrite begins a transaction that writes lanseedd_torrents; unlock
// ends this process's hold on a SQLite catalog, after the transaction.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, func(), error) {
	unlock := func() {}
	if s.d.name == "sqlite" {
		s.writes.Lock()
		unlock = s.writes.Unlock
	}
	var opts *sql.TxOptions
	if s.d.name == "mysql" {
		// Read committed, InnoDB's UPDATE passes over a row another
		// transaction holds when its last committed version does not
		// match, where repeatable read would wait for every row its plan
		// reads (a scan, on a small table).
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return tx, unlock, nil
}

// lockedRow is what a batch needs to know of a row it holds.
type lockedRow struct {
	generation int64
	state      lanseedd.State
	infohash   sql.NullString
	published  bool
	claimedBy  sql.NullString
	leaseOver  bool
}

// lockRows locks, in tx, the rows of ids that no other transaction holds,
// without waiting for the others, and returns them. SQLite has one writer
// at a time: every row there is free.
func (s *Store) lockRows(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]lockedRow, error) {
	out := make(map[int64]lockedRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT file_id, generation, state, infohash, published_at IS NOT NULL, claimed_by,
			CASE WHEN claimed_until < ` + s.d.now + ` THEN 1 ELSE 0 END
		FROM lanseedd_torrents WHERE file_id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if s.d.name != "sqlite" {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := tx.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("lock rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			l     lockedRow
			state string
			over  int
		)
		if err := rows.Scan(&id, &l.generation, &state, &l.infohash, &l.published, &l.claimedBy, &over); err != nil {
			return nil, err
		}
		l.state, l.leaseOver = lanseedd.State(state), over == 1
		out[id] = l
	}
	return out, rows.Err()
}
