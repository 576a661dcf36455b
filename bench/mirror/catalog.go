package main

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"
)

// catalog is a PostgreSQL database made for the benchmark on the local
// server, reached through its unix socket: a path, so the same DSN works
// from every namespace of the lab (127.0.0.1 inside a namespace is the
// namespace's own loopback).
type catalog struct {
	socket, name string
}

// dsn is the database's DSN for the user postgres.
func catalogDSN(socket, db string) string {
	return "postgres://postgres@/" + db + "?host=" + url.QueryEscape(socket)
}

func (c *catalog) dsn() string { return catalogDSN(c.socket, c.name) }

// newCatalog creates database name with the catalog site's table, files(id,
// path), empty.
func newCatalog(ctx context.Context, socket, name string) (*catalog, error) {
	admin, err := pgx.Connect(ctx, catalogDSN(socket, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s (user postgres, trust): %w", socket, err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create the catalog database: %w", err)
	}
	c := &catalog{socket: socket, name: name}
	if err := c.exec(ctx, "CREATE TABLE files (id BIGSERIAL PRIMARY KEY, path TEXT NOT NULL)"); err != nil {
		c.drop()
		return nil, err
	}
	return c, nil
}

// migrate installs lanseedd's tables and triggers with bin.
func (c *catalog) migrate(ctx context.Context, bin string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate", "-config", "/dev/null", "-catalog", c.dsn())
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lanseedd migrate: %w\n%s", err, out)
	}
	return nil
}

// insert adds one row per path.
func (c *catalog) insert(ctx context.Context, paths []string) error {
	conn, err := pgx.Connect(ctx, c.dsn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "INSERT INTO files (path) SELECT unnest($1::text[])", paths)
	return err
}

// states counts lanseedd's rows by state.
func (c *catalog) states(ctx context.Context) (map[string]int, error) {
	conn, err := pgx.Connect(ctx, c.dsn())
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT state, count(*) FROM lanseedd_torrents GROUP BY state")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var state string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		out[state] = n
		return nil
	})
	return out, err
}

func (c *catalog) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.dsn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// drop removes the database, whoever is still connected.
func (c *catalog) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, catalogDSN(c.socket, "postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{c.name}.Sanitize()+" WITH (FORCE)")
	return err
}
