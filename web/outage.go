package web

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lanseedd/lanseedd"
)

const (
	// catalogTimeout bounds one catalog read for a request: a database
	// that does not answer (a blackholed server) costs the client this
	// long, not the driver's connect timeout.
	catalogTimeout = 3 * time.Second
	// breakerCooldown is how long requests fail at once after a catalog
	// read timed out, before one request tries the catalog again.
	breakerCooldown = 5 * time.Second
)

// errCatalogDown is returned without asking the catalog while the breaker
// is open.
var errCatalogDown = errors.New("the catalog did not answer in time; not asking again for a few seconds")

// outage is a circuit breaker on catalog reads, and logs an outage once
// when it begins and once when it ends, not for every request.
type outage struct {
	log  *slog.Logger
	down atomic.Bool
	// openUntil is when, in Unix nanoseconds, reads may try the catalog
	// again after one timed out; 0 while closed.
	openUntil atomic.Int64
	probing   atomic.Bool
}

// read runs f on the catalog with a bounded context, or fails at once while
// the breaker is open (one request at a time probes once it has cooled).
func (o *outage) read(ctx context.Context, f func(ctx context.Context) error) error {
	if until := o.openUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until || !o.probing.CompareAndSwap(false, true) {
			return errCatalogDown
		}
		defer o.probing.Store(false)
	}
	tctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	err := f(tctx)
	switch {
	case err == nil || errors.Is(err, lanseedd.ErrNotFound):
		o.up()
	case ctx.Err() != nil:
		// The client hung up, which says nothing about the catalog.
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		// A database that does not answer: later requests fail at once
		// instead of each waiting as long.
		o.openUntil.Store(time.Now().Add(breakerCooldown).UnixNano())
		o.failed(err)
	default:
		o.failed(err)
	}
	return err
}

func (o *outage) failed(err error) {
	if o.down.CompareAndSwap(false, true) {
		o.log.Warn("the catalog is unreachable; requests that need it get 503 until it answers (logged once)", "err", err)
	}
}

func (o *outage) up() {
	o.openUntil.Store(0)
	if o.down.CompareAndSwap(true, false) {
		o.log.Info("the catalog answers again")
	}
}
