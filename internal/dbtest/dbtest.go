// Package dbtest gives tests a catalog database of their own on the local
// PostgreSQL and MariaDB servers, or in a temporary SQLite file.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Environment variables naming the servers' administrative DSNs.
const (
	EnvPostgres = "LANSEEDD_TEST_POSTGRES"
	EnvMySQL    = "LANSEEDD_TEST_MYSQL"
)

// Defaults point at the local servers: trust authentication for postgres,
// root without a password for MariaDB.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultMySQL    = "root@tcp(127.0.0.1:3306)/test"
)

// Backend is one kind of catalog database.
type Backend struct {
	Name string
	// New returns the DSN of a new, empty database that is dropped when the
	// test ends.
	New func(tb testing.TB) string
}

// Backends lists the three catalog databases, for suites that run on each.
var Backends = []Backend{
	{"sqlite", NewSQLite},
	{"postgres", NewPostgres},
	{"mysql", NewMySQL},
}

// NewSQLite returns "sqlite:PATH" of a catalog file in a temporary directory.
func NewSQLite(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "catalog.db")
}

// NewPostgres creates a database on the PostgreSQL server of
// $LANSEEDD_TEST_POSTGRES and returns its DSN.
func NewPostgres(tb testing.TB) string {
	tb.Helper()
	admin := env(EnvPostgres, DefaultPostgres)
	db := open(tb, "pgx", admin, "PostgreSQL", EnvPostgres)
	name := uniqueName(tb)
	mustExec(tb, db, `CREATE DATABASE "`+name+`"`)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewMySQL creates a database on the MySQL or MariaDB server of
// $LANSEEDD_TEST_MYSQL and returns its DSN, in go-sql-driver form.
func NewMySQL(tb testing.TB) string {
	tb.Helper()
	admin := env(EnvMySQL, DefaultMySQL)
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		tb.Fatalf("%s: %v", EnvMySQL, err)
	}
	db := open(tb, "mysql", cfg.FormatDSN(), "MySQL", EnvMySQL)
	name := uniqueName(tb)
	mustExec(tb, db, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4")
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
		db.Close()
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// open connects to an administrative DSN. A server that cannot be reached
// fails the test when $CI is set, and skips it otherwise.
func open(tb testing.TB, driver, dsn, what, envName string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		msg := what + " test server not reachable (set " + envName + " to its DSN): " + err.Error()
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return db
}

func mustExec(tb testing.TB, db *sql.DB, q string) {
	tb.Helper()
	if _, err := db.Exec(q); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// uniqueName names a test database after the test, unique across runs and
// parallel packages.
func uniqueName(tb testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return "lanseedd_" + name + "_" + hex.EncodeToString(b[:])
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// PostgresAdmin returns a connection to the administrative database of the
// PostgreSQL test server, closed when the test ends.
func PostgresAdmin(tb testing.TB) *sql.DB {
	tb.Helper()
	db := open(tb, "pgx", env(EnvPostgres, DefaultPostgres), "PostgreSQL", EnvPostgres)
	tb.Cleanup(func() { db.Close() })
	return db
}

// MySQLAdmin returns a connection to the MySQL test server, closed when the
// test ends.
func MySQLAdmin(tb testing.TB) *sql.DB {
	tb.Helper()
	cfg, err := mysql.ParseDSN(env(EnvMySQL, DefaultMySQL))
	if err != nil {
		tb.Fatalf("%s: %v", EnvMySQL, err)
	}
	db := open(tb, "mysql", cfg.FormatDSN(), "MySQL", EnvMySQL)
	tb.Cleanup(func() { db.Close() })
	return db
}
