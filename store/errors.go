package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// connectReason says in a few words why connecting to a catalog failed.
func connectReason(err error) string {
	var (
		pe *pgconn.PgError
		me *mysql.MySQLError
		ne net.Error
		oe *net.OpError
	)
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case "28P01", "28000":
			return "wrong user or password"
		case "3D000":
			return "no such database"
		case "42501":
			return "permission denied"
		}
		return "server refused the connection"
	case errors.As(err, &me):
		switch me.Number {
		case 1045, 1698:
			return "wrong user or password"
		case 1049:
			return "no such database"
		case 1044:
			return "permission denied"
		}
		return "server refused the connection"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "server did not answer in time"
	case errors.As(err, &oe):
		return "cannot reach the server"
	}
	return "cannot connect"
}

// triggerHint explains the errors a database gives to a user who may not
// create triggers, with what fixes them.
func triggerHint(err error) string {
	var (
		pe *pgconn.PgError
		me *mysql.MySQLError
	)
	switch {
	case errors.As(err, &me) && me.Number == 1419:
		return "the server has binary logging on and the user lacks SUPER; " +
			"set log_bin_trust_function_creators=1 on the server " +
			"(SET GLOBAL log_bin_trust_function_creators = 1, and in my.cnf) or grant the user SUPER"
	case errors.As(err, &me) && (me.Number == 1142 || me.Number == 1227):
		return "the user needs the TRIGGER privilege on the catalog table"
	case errors.As(err, &pe) && pe.Code == "42501":
		return "the user must own the catalog table (or be a member of its owning role) to add triggers"
	}
	return ""
}

// withHint appends triggerHint's explanation to err, if it has one.
func withHint(err error) error {
	if h := triggerHint(err); h != "" {
		return fmt.Errorf("%w (%s)", err, h)
	}
	return err
}

var mysqlLogOnce sync.Once

// quietMySQLDriver stops go-sql-driver from printing to stderr about
// connections the watcher already handles (a killed connection, a restart).
func quietMySQLDriver() {
	mysqlLogOnce.Do(func() {
		mysql.SetLogger(log.New(io.Discard, "", 0))
	})
}

// lostConn reports whether err says the connection a statement went to was
// gone before the statement ran (killed by an administrator, a server
// restart, an idle timeout), so that running it again on another connection
// is safe.
func lostConn(err error) bool {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return false
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn):
		return true
	case errors.As(err, &pe):
		// admin_shutdown, crash_shutdown, cannot_connect_now
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err)
}

// retry runs f again, up to twice, while it fails on a lost connection: the
// pool then hands out another one.
func retry(ctx context.Context, f func() error) error {
	err := f()
	for i := 0; i < 2 && lostConn(err) && ctx.Err() == nil; i++ {
		err = f()
	}
	return err
}
