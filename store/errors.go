package store

import (
	"context"
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
