package store

import (
	"errors"
	"fmt"
	"strings"
)

// parseDSN splits a catalog DSN into its dialect and the driver's own DSN.
func parseDSN(dsn string) (dialect, rest string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", errors.New(`sqlite DSN needs a path: "sqlite:/var/lib/lanseedd/catalog.db"`)
		}
		return "sqlite", path, nil
	}
	return "", "", fmt.Errorf("unsupported catalog DSN %q: want sqlite:PATH", RedactDSN(dsn))
}

// RedactDSN returns dsn with any password replaced by "xxxxx", for logs and
// errors.
func RedactDSN(dsn string) string {
	// URL form: scheme://user:pass@host/…
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		at := strings.LastIndex(rest, "@")
		if slash := strings.Index(rest, "/"); slash >= 0 && slash < at {
			at = strings.LastIndex(rest[:slash], "@")
		}
		if at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon+1] + "xxxxx" + rest[at:]
			}
		}
		return dsn
	}
	// go-sql-driver form: user:pass@tcp(host)/db
	if at := strings.LastIndex(dsn, "@"); at >= 0 {
		if colon := strings.Index(dsn[:at], ":"); colon >= 0 {
			return dsn[:colon+1] + "xxxxx" + dsn[at:]
		}
	}
	return dsn
}
