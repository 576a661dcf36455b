//go:build integration

package integration

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/dbtest"
)

// dbServer is a local database server the test may stop and start. Other
// tests use the same servers: outages are kept short, and the server is up
// again when the test ends, whatever happened.
type dbServer struct {
	name  string
	newDB func(testing.TB) string
	// ddl creates the catalog table, with a column lanseedd does not watch.
	ddl   string
	stop  func(ctx context.Context) error
	start func(ctx context.Context) error
	up    func(ctx context.Context) bool
}

var dbServers = []dbServer{
	{
		name:  "postgres",
		newDB: dbtest.NewPostgres,
		ddl:   "CREATE TABLE files (id BIGSERIAL PRIMARY KEY, path TEXT NOT NULL, title TEXT)",
		stop:  func(ctx context.Context) error { return pgCluster(ctx, "stop", "-m", "fast") },
		start: func(ctx context.Context) error { return pgCluster(ctx, "start") },
		up: func(ctx context.Context) bool {
			return exec.CommandContext(ctx, "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").Run() == nil
		},
	},
	{
		name:  "mariadb",
		newDB: dbtest.NewMySQL,
		ddl:   "CREATE TABLE files (id BIGINT AUTO_INCREMENT PRIMARY KEY, path VARCHAR(1000) NOT NULL, title TEXT) CHARACTER SET utf8mb4",
		stop: func(ctx context.Context) error {
			if err := runCmd(ctx, "mysqladmin", "--protocol=tcp", "-h", "127.0.0.1", "-P", "3306", "-uroot", "shutdown"); err != nil {
				return err
			}
			// Until the process is gone, a start is a no-op (--oknodo).
			for exec.CommandContext(ctx, "start-stop-daemon", "--status", "--exec", "/usr/sbin/mariadbd").Run() == nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		},
		start: func(ctx context.Context) error {
			return runCmd(ctx, "start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd")
		},
		up: func(ctx context.Context) bool {
			return exec.CommandContext(ctx, "mysqladmin", "--protocol=tcp", "-h", "127.0.0.1", "-P", "3306", "-uroot", "ping").Run() == nil
		},
	},
}

func pgCluster(ctx context.Context, args ...string) error {
	versions, err := filepath.Glob("/etc/postgresql/*")
	if err != nil || len(versions) == 0 {
		return fmt.Errorf("no PostgreSQL cluster under /etc/postgresql")
	}
	return runCmd(ctx, "pg_ctlcluster", append([]string{"--skip-systemctl-redirect", filepath.Base(versions[0]), "main"}, args...)...)
}

func runCmd(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return nil
}

// guard makes sure the server is up again when the test ends.
func (s dbServer) guard(t testing.TB) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if s.up(ctx) {
			return
		}
		t.Logf("%s is down at the end of the test: starting it", s.name)
		if err := s.startWait(ctx); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	})
}

// stopWait stops the server and waits until it no longer answers.
func (s dbServer) stopWait(ctx context.Context) error {
	if err := s.stop(ctx); err != nil {
		return err
	}
	for s.up(ctx) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// startWait starts the server and waits until it answers, starting it
// again every few seconds if it does not.
func (s dbServer) startWait(ctx context.Context) error {
	for {
		if err := s.start(ctx); err != nil {
			return err
		}
		for range 50 {
			if s.up(ctx) {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s did not come back: %w", s.name, ctx.Err())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// catalog makes a new database on the server with the site's table,
// installs lanseedd with `lanseedd migrate`, and returns its DSN and the
// site's connection.
func (s dbServer) catalog(t *testing.T) (string, *sql.DB) {
	t.Helper()
	// Another suite may be restarting the server: give it a minute.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for !s.up(ctx) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
	}
	if !s.up(context.Background()) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not running", s.name)
		}
		t.Skipf("%s is not running", s.name)
	}
	dsn := s.newDB(t)
	site := openCatalog(t, dsn)
	if _, err := site.DB().Exec(s.ddl); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lanseeddBin, "migrate", "-config", os.DevNull, "-catalog", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("lanseedd migrate: %v\n%s", err, out)
	}
	return dsn, site.DB()
}
