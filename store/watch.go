package store

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// pingEvery is how often an idle PostgreSQL listener checks that its
	// connection still works: NOTIFY is lost while disconnected.
	pingEvery = 10 * time.Second
	// checkTimeout bounds one poll or ping, so that a server that stops
	// answering is noticed.
	checkTimeout = 5 * time.Second
	// backoffMax caps the wait between reconnection attempts.
	backoffMax = 5 * time.Second
	// fileCheckEvery is how often the SQLite catalog's path is compared
	// with the file open (one stat).
	fileCheckEvery = time.Second
)

// Watch calls wake whenever the catalog may have changed, and runs the full
// catalog comparison at start, every ResyncInterval and after every outage.
// PostgreSQL is watched with LISTEN on a connection of its own; MySQL and
// SQLite are polled every PollInterval. When the database goes away, Watch
// logs it once, reconnects with backoff and wakes the caller once it is back.
// It returns nil when ctx is done. Wake-ups carry no data: the caller reads
// Work. An SQLite catalog file deleted or replaced under it ends Watch with
// ErrCatalogReplaced: reopening would silently lose the claims and rows of
// the old file, so the daemon stops and its supervisor starts it afresh.
func (s *Store) Watch(ctx context.Context, wake func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	reconnected := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { s.maintain(ctx, wake, reconnected) })
	if s.d.name == "sqlite" {
		wg.Go(func() { s.watchFile(ctx, cancel) })
	}
	if s.d.name == "postgres" {
		s.listen(ctx, wake, reconnected)
	} else {
		s.poll(ctx, wake, reconnected)
	}
	wg.Wait()
	if err := context.Cause(ctx); errors.Is(err, ErrCatalogReplaced) {
		return err
	}
	return nil
}

// watchFile compares the SQLite catalog's path with the file open until
// ctx is done, and cancels with ErrCatalogReplaced when they differ.
func (s *Store) watchFile(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(fileCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.checkFile(); err != nil {
			s.log.Error("catalog file replaced; stopping", "err", err,
				"hint", "restart lanseedd to open the catalog file now at this path")
			cancel(err)
			return
		}
	}
}

// maintain runs the periodic full comparison and renews this daemon's
// claims.
func (s *Store) maintain(ctx context.Context, wake func(), reconnected <-chan struct{}) {
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	renew := time.NewTicker(s.cfg.ClaimLease / 3)
	defer renew.Stop()
	s.resync(ctx, wake)
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			s.resync(ctx, wake)
		case <-reconnected:
			s.resync(ctx, wake)
		case <-renew.C:
			if s.down.Load() {
				continue
			}
			if err := s.renewClaims(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("renewing claims failed", "err", err)
			}
			// Rows another daemon held when it died become free when its
			// lease runs out, with no trigger to say so.
			wake()
		}
	}
}

// slowResync is how long a catalog comparison may take before it is
// logged at Info even when it found nothing.
const slowResync = time.Second

func (s *Store) resync(ctx context.Context, wake func()) {
	n, err := s.Resync(ctx)
	if err != nil {
		if ctx.Err() == nil && !s.down.Load() {
			s.log.Warn("catalog comparison failed", "err", err)
		}
		return
	}
	st := s.LastResync()
	attrs := []any{"changed", st.Changed, "examined", st.Examined, "duration", st.Duration.Round(time.Millisecond)}
	switch {
	case n > 0:
		s.log.Info("catalog comparison found changes the triggers missed", attrs...)
		wake()
	case st.Duration > slowResync:
		s.log.Info("catalog comparison found nothing to change", attrs...)
	default:
		s.log.Debug("catalog comparison found nothing to change", attrs...)
	}
}

// failed records that the watcher lost the database.
func (s *Store) failed(err error) {
	if s.down.Swap(true) {
		return
	}
	s.outageSince.Store(time.Now().UnixNano())
	s.log.Warn("catalog database unreachable; seeding goes on, reconnecting",
		"err", redact(err, s.cfg.DSN, s.t.secret))
}

// recovered records that the watcher reached the database again, and asks
// for a full comparison to catch up.
func (s *Store) recovered(reconnected chan<- struct{}) {
	if !s.down.Swap(false) {
		return
	}
	s.log.Info("catalog database reachable again",
		"outage", time.Since(time.Unix(0, s.outageSince.Load())).Round(time.Millisecond))
	select {
	case reconnected <- struct{}{}:
	default:
	}
}

// backoff spaces reconnection attempts: 100ms doubling to backoffMax, with
// jitter so that several daemons do not knock in step.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else {
		b.d = min(2*b.d, backoffMax)
	}
	t := time.NewTimer(b.d/2 + rand.N(b.d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (b *backoff) reset() { b.d = 0 }

// listen waits for the triggers' NOTIFY on a dedicated connection: LISTEN,
// then wake (whatever changed before LISTEN is read by the caller), then
// wait, pinging the connection when idle.
func (s *Store) listen(ctx context.Context, wake func(), reconnected chan<- struct{}) {
	var b backoff
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake, reconnected, &b)
		if ctx.Err() != nil {
			return
		}
		s.failed(err)
		b.wait(ctx)
	}
}

func (s *Store) listenOnce(ctx context.Context, wake func(), reconnected chan<- struct{}, b *backoff) error {
	conn, err := pgx.ConnectConfig(ctx, s.t.pg.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN lanseedd"); err != nil {
		return err
	}
	b.reset()
	s.recovered(reconnected)
	wake()
	for {
		wctx, cancel := context.WithTimeout(ctx, pingEvery)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			wake()
		case pgconn.Timeout(err) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, checkTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// poll checks a cheap query on a dedicated connection every PollInterval.
func (s *Store) poll(ctx context.Context, wake func(), reconnected chan<- struct{}) {
	var b backoff
	for ctx.Err() == nil {
		conn, err := s.db.Conn(ctx)
		if err == nil {
			err = s.pollConn(ctx, conn, wake, reconnected, &b)
			conn.Close()
		}
		if ctx.Err() != nil {
			return
		}
		s.failed(err)
		b.wait(ctx)
	}
}

func (s *Store) pollConn(ctx context.Context, conn *sql.Conn, wake func(), reconnected chan<- struct{}, b *backoff) error {
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	var (
		last      int64
		connected bool
		lastWake  time.Time
	)
	for {
		token, work, err := s.pollOnce(ctx, conn)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case !connected:
			// (Re)connected: catch up on what happened meanwhile.
			connected = true
			b.reset()
			s.recovered(reconnected)
			wake()
			lastWake = time.Now()
		case work && (token != last || time.Since(lastWake) >= time.Second):
			// Something changed; or unclaimed work stays, which is said
			// again each second in case the caller failed to read it.
			wake()
			lastWake = time.Now()
		}
		last = token
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// pollOnce returns a token that changes when the catalog may have, and
// whether there may be work.
//
// SQLite: PRAGMA data_version changes whenever another connection commits,
// without reading a table. MySQL: a checksum of the ids and generations of
// the rows waiting unclaimed, read from the (state, claimed_by, generation)
// index alone and capped, so that a large backlog costs no more. A
// trigger always leaves its row pending or deleted: unclaimed, so the token
// moves; or claimed, and the daemon holding it redoes it.
func (s *Store) pollOnce(ctx context.Context, conn *sql.Conn) (token int64, work bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if s.d.name == "sqlite" {
		err = conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&token)
		return token, true, err
	}
	var n, sum int64
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(file_id * 1000003 + generation), 0) FROM (
		SELECT file_id, generation FROM lanseedd_torrents
		WHERE state IN ('pending', 'deleted') AND claimed_by IS NULL LIMIT 1000) AS w`).Scan(&n, &sum)
	return n*1_000_003 + sum, n > 0, err
}
