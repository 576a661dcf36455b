package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lanseedd/lanseedd/internal/dbtest"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, dialect, want string // want: part of the driver DSN, or of the error
		bad                bool
	}{
		{dsn: "sqlite:/var/lib/lanseedd/catalog.db", dialect: "sqlite", want: "/var/lib/lanseedd/catalog.db"},
		{dsn: "sqlite:///abs.db", dialect: "sqlite", want: "/abs.db"},
		{dsn: "sqlite:", bad: true, want: "needs a path"},
		{dsn: "postgres://u:pw@db.lan:5433/cat?sslmode=disable", dialect: "postgres"},
		{dsn: "postgresql://u@db.lan/cat", dialect: "postgres"},
		{dsn: "postgres://u:pw@db.lan:notaport/cat", bad: true, want: "bad PostgreSQL DSN"},
		{dsn: "mysql://u:p%40ss@db.lan:3307/cat?charset=utf8mb4", dialect: "mysql", want: "u:p@ss@tcp(db.lan:3307)/cat?"},
		{dsn: "mysql://u:pw@db.lan/cat", dialect: "mysql", want: "tcp(db.lan:3306)/cat"},
		{dsn: "mysql://u@/cat?socket=/run/mysqld/mysqld.sock", dialect: "mysql", want: "unix(/run/mysqld/mysqld.sock)/cat"},
		{dsn: "mysql://u:pw@db.lan/", bad: true, want: "database name"},
		{dsn: "u:pw@tcp(db.lan:3306)/cat", dialect: "mysql", want: "parseTime=true"},
		{dsn: "root@unix(/run/mysqld/mysqld.sock)/test", dialect: "mysql", want: "unix(/run/mysqld/mysqld.sock)/test"},
		{dsn: "u:pw@tcp(db.lan:3306)/cat?timeout=soon", bad: true, want: "bad MySQL DSN"},
		{dsn: "host=db.lan dbname=cat password=hunter22", bad: true, want: "unsupported catalog DSN"},
		{dsn: "oracle://u:pw@h/db", bad: true, want: "want sqlite:PATH"},
	} {
		dialect, rest, err := parseDSN(tc.dsn)
		switch {
		case tc.bad && err == nil:
			t.Errorf("%s: no error", tc.dsn)
		case tc.bad:
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not say %q", tc.dsn, err, tc.want)
			}
			for _, secret := range []string{"hunter22", ":pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: error %q shows the password", tc.dsn, err)
				}
			}
		case err != nil:
			t.Errorf("%s: %v", tc.dsn, err)
		case dialect != tc.dialect || !strings.Contains(rest, tc.want):
			t.Errorf("%s: got %s %q, want %s with %q", tc.dsn, dialect, rest, tc.dialect, tc.want)
		}
	}
}

func TestMySQLDSNReadsTimes(t *testing.T) {
	tg, err := parseTarget("mysql://u:pw@h/db?parseTime=false&timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if !tg.my.ParseTime || tg.my.Loc != time.UTC || tg.my.Timeout != 3*time.Second {
		t.Errorf("parseTime %v loc %v timeout %v", tg.my.ParseTime, tg.my.Loc, tg.my.Timeout)
	}
}

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?user=u&password=secret&sslmode=disable", "postgres://h/db?user=u&password=xxxxx&sslmode=disable"},
		{"mysql://u:se:cr@et@h/db", "mysql://u:xxxxx@h/db"},
		{"u:secret@tcp(h:3306)/db", "u:xxxxx@tcp(h:3306)/db"},
		{"u@tcp(h:3306)/db", "u@tcp(h:3306)/db"},
		{"host=h password=secret dbname=db", "host=h password=xxxxx dbname=db"},
		{"sqlite:/a/b.db", "sqlite:/a/b.db"},
	} {
		if got := RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactKeepsErrorChain(t *testing.T) {
	cause := &mysql.MySQLError{Number: 1045, Message: "Access denied for u:s3cret@tcp(h)/db"}
	err := redact(fmt.Errorf("open: %w", cause), "u:s3cret@tcp(h)/db", "s3cret")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("secret in %q", err)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("error chain lost: %v", err)
	}
}

// TestConnectErrorsAreOneClearLine opens catalogs that cannot work and checks
// each error says why in one line, without the password.
func TestConnectErrorsAreOneClearLine(t *testing.T) {
	if testing.Short() {
		t.Skip("dials servers")
	}
	dbtest.PostgresAdmin(t) // the servers must be up for their answers
	dbtest.MySQLAdmin(t)
	const secret = "s3cretpw"
	for _, tc := range []struct{ name, dsn, want string }{
		{"pg no database", "postgres://postgres:" + secret + "@127.0.0.1:5432/lanseedd_no_such_db?sslmode=disable", "no such database"},
		{"pg unreachable", "postgres://postgres:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "cannot reach the server"},
		{"mysql wrong password", "root:" + secret + "@tcp(127.0.0.1:3306)/test", "wrong user or password"},
		{"mysql url wrong password", "mysql://root:" + secret + "@127.0.0.1:3306/test", "wrong user or password"},
		{"mysql unreachable", "root:" + secret + "@tcp(127.0.0.1:1)/test?timeout=2s", "cannot reach the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DSN = tc.dsn
			_, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, secret) {
				t.Errorf("password in %q", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
		})
	}
}

func TestTriggerHints(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&mysql.MySQLError{Number: 1419, Message: "You do not have the SUPER privilege and binary logging is enabled"}, "log_bin_trust_function_creators=1"},
		{&mysql.MySQLError{Number: 1142, Message: "TRIGGER command denied"}, "TRIGGER privilege"},
		{&pgconn.PgError{Code: "42501", Message: "must be owner of table files"}, "own the catalog table"},
	} {
		got := withHint(fmt.Errorf("create trigger: %w", tc.err)).Error()
		if !strings.Contains(got, tc.want) || !strings.Contains(got, tc.err.Error()) {
			t.Errorf("%v: %q, want the server's message and %q", tc.err, got, tc.want)
		}
	}
}
