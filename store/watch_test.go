package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/store"
)

// logCounter passes log lines to the test log and counts them by message.
type logCounter struct {
	tb testing.TB
	mu sync.Mutex
	n  map[string]int
}

func (l *logCounter) Write(p []byte) (int, error) {
	l.tb.Log(strings.TrimRight(string(p), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, after, ok := strings.Cut(string(p), `msg="`); ok {
		msg, _, _ := strings.Cut(after, `"`)
		l.n[msg]++
	}
	return len(p), nil
}

func (l *logCounter) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for msg, k := range l.n {
		if strings.HasPrefix(msg, prefix) {
			n += k
		}
	}
	return n
}

// watching runs Watch on c's catalog with a store of its own and returns
// the channel its wake-ups arrive on.
func watching(t *testing.T, c *catalog, logs *logCounter) (*store.Store, <-chan struct{}) {
	t.Helper()
	cfg := c.cfg
	cfg.PollInterval = 50 * time.Millisecond
	st, err := store.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	wakes := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Watch(ctx, func() {
			select {
			case wakes <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return st, wakes
}

// awaitWork waits for wake-ups and reads Work after each, until every id in
// want has been claimed. Only wake-ups lead to reads: a watcher that misses
// a change fails the test.
func awaitWork(t *testing.T, st *store.Store, wakes <-chan struct{}, want []int64) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	seen := map[int64]bool{}
	for {
		select {
		case <-wakes:
		case <-deadline:
			t.Fatalf("rows %v never came as work; saw %v", want, seen)
		}
		rows, err := st.Work(context.Background(), 100, nil)
		if err != nil {
			continue // the outage may not be over for this connection
		}
		for _, r := range rows {
			seen[r.FileID] = true
			st.Finish(context.Background(), lanseedd.Result{FileID: r.FileID, Generation: r.Generation, State: lanseedd.StateReady})
		}
		if !slices.ContainsFunc(want, func(id int64) bool { return !seen[id] }) {
			return
		}
	}
}

// insertRetrying inserts a row as the site would, retrying while the
// connection it got was just killed.
func (c *catalog) insertRetrying(t *testing.T, path string) int64 {
	t.Helper()
	q := c.Rebind("INSERT INTO files (path) VALUES (?)")
	for try := 0; ; try++ {
		var (
			id  int64
			err error
		)
		if c.Dialect() == "postgres" {
			err = c.db.QueryRow(q+" RETURNING id", path).Scan(&id)
		} else if res, e := c.db.Exec(q, path); e == nil {
			id, err = res.LastInsertId()
		} else {
			err = e
		}
		if err == nil {
			return id
		}
		if try == 5 {
			t.Fatalf("insert %s: %v", path, err)
		}
	}
}

// killOthers ends every other connection to the test database, as an
// administrator or a server restart would.
func (c *catalog) killOthers(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	conn, err := c.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	switch c.Dialect() {
	case "postgres":
		var n int
		err := conn.QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	case "mysql":
		rows, err := conn.QueryContext(ctx, `SELECT id FROM information_schema.processlist
			WHERE db = DATABASE() AND id <> CONNECTION_ID()`)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err != nil {
				t.Logf("KILL %d: %v", id, err)
			}
		}
		return len(ids)
	}
	return 0
}

func TestWatchWakesOnChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, b dbtest.Backend) {
		c := newCatalog(t, b, plain)
		logs := &logCounter{tb: t, n: map[string]int{}}
		st, wakes := watching(t, c, logs)
		<-wakes // connected
		for _, op := range []string{"insert", "update", "delete"} {
			var id int64
			switch op {
			case "insert":
				id = c.insert(t, plain, "a.bin")
			case "update":
				id = c.insert(t, plain, "b.bin")
				awaitWork(t, st, wakes, []int64{id})
				c.mustExec(t, "UPDATE files SET path = 'c.bin' WHERE id = ?", id)
			case "delete":
				id = c.insert(t, plain, "d.bin")
				awaitWork(t, st, wakes, []int64{id})
				c.mustExec(t, "DELETE FROM files WHERE id = ?", id)
			}
			awaitWork(t, st, wakes, []int64{id})
		}
	})
}

// TestWatchRecoversFromKilledConnections kills the watcher's connection
// while rows keep changing: it reconnects, logs the outage once, and the
// changes made meanwhile are seen.
func TestWatchRecoversFromKilledConnections(t *testing.T) {
	for _, b := range dbtest.Backends[1:] {
		t.Run(b.Name, func(t *testing.T) {
			c := newCatalog(t, b, plain)
			logs := &logCounter{tb: t, n: map[string]int{}}
			st, wakes := watching(t, c, logs)
			<-wakes
			for round := range 3 {
				if n := c.killOthers(t); n == 0 {
					t.Fatal("no connection to kill")
				}
				var ids []int64
				for i := range 3 {
					ids = append(ids, c.insertRetrying(t, fmt.Sprintf("r%d-%d.bin", round, i)))
					time.Sleep(20 * time.Millisecond)
				}
				awaitWork(t, st, wakes, ids)
			}
			// Each kill is at most one outage, logged once however many
			// attempts it took.
			down, up := logs.count("catalog database unreachable"), logs.count("catalog database reachable again")
			if down > 3 || down != up {
				t.Errorf("logged %d outages and %d recoveries for 3 kills", down, up)
			}
		})
	}
}

// TestWatchLogsAnOutageOnce keeps the database refusing connections for a
// while: many reconnection attempts, one warning, and the rows written just
// before it comes back are seen.
func TestWatchLogsAnOutageOnce(t *testing.T) {
	c := newCatalog(t, dbtest.Backend{Name: "postgres", New: dbtest.NewPostgres}, plain)
	logs := &logCounter{tb: t, n: map[string]int{}}
	st, wakes := watching(t, c, logs)
	<-wakes
	var name string
	if err := c.db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	admin := dbtest.PostgresAdmin(t)
	ctx := context.Background()
	// A connection of the site's that lives through the outage.
	conn, err := c.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS true`) })
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND query = 'LISTEN lanseedd'`, name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // several reconnection attempts
	var id int64
	if err := conn.QueryRowContext(ctx, "INSERT INTO files (path) VALUES ('during.bin') RETURNING id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`ALTER DATABASE "` + name + `" ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	awaitWork(t, st, wakes, []int64{id})
	if n := logs.count("catalog database unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
}
