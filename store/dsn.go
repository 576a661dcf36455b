package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// dsnForms lists the accepted catalog DSN forms, for error messages.
const dsnForms = "sqlite:PATH, postgres://USER:PASS@HOST:PORT/DB, " +
	"mysql://USER:PASS@HOST:PORT/DB or USER:PASS@tcp(HOST:PORT)/DB"

// connectTimeout bounds connecting to a catalog server that does not answer.
const connectTimeout = 10 * time.Second

// target is a parsed catalog DSN.
type target struct {
	dialect string
	// path is the SQLite file.
	path string
	// pg and my configure the PostgreSQL and MySQL drivers.
	pg *pgx.ConnConfig
	my *mysql.Config
	// secret is the password, redacted from driver errors.
	secret string
}

// parseDSN splits a catalog DSN into its dialect and the driver's own DSN.
func parseDSN(dsn string) (dialect, rest string, err error) {
	t, err := parseTarget(dsn)
	if err != nil {
		return "", "", err
	}
	switch t.dialect {
	case "sqlite":
		return t.dialect, t.path, nil
	case "mysql":
		return t.dialect, t.my.FormatDSN(), nil
	}
	return t.dialect, dsn, nil
}

// SQLiteFile returns the file of a SQLite catalog DSN, and false for a
// catalog on a server (or a DSN that does not parse).
func SQLiteFile(dsn string) (string, bool) {
	t, err := parseTarget(dsn)
	if err != nil || t.dialect != "sqlite" {
		return "", false
	}
	path, _, _ := strings.Cut(t.path, "?")
	return path, true
}

func parseTarget(dsn string) (target, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return target{}, errors.New(`sqlite DSN needs a path: "sqlite:/var/lib/lanseedd/catalog.db"`)
		}
		return target{dialect: "sqlite", path: path}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return target{}, redact(fmt.Errorf("bad PostgreSQL DSN %s: %w", RedactDSN(dsn), err), dsn, "")
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = connectTimeout
		}
		return target{dialect: "postgres", pg: cfg, secret: cfg.Password}, nil
	case strings.HasPrefix(dsn, "mysql://"), strings.HasPrefix(dsn, "mariadb://"):
		cfg, err := mysqlURL(dsn)
		if err != nil {
			return target{}, redact(fmt.Errorf("bad MySQL DSN %s: %w", RedactDSN(dsn), err), dsn, "")
		}
		return mysqlTarget(cfg), nil
	case !strings.Contains(dsn, "://") && strings.Contains(dsn, "/") &&
		(strings.Contains(dsn, "@") || strings.HasPrefix(dsn, "tcp(") || strings.HasPrefix(dsn, "unix(")):
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return target{}, redact(fmt.Errorf("bad MySQL DSN %s: %w", RedactDSN(dsn), err), dsn, "")
		}
		return mysqlTarget(cfg), nil
	}
	return target{}, fmt.Errorf("unsupported catalog DSN %q: want %s", RedactDSN(dsn), dsnForms)
}

// mysqlURL reads mysql://USER:PASS@HOST[:PORT]/DB?PARAMS, where PARAMS are
// the go-sql-driver's (and socket=PATH for a Unix socket).
func mysqlURL(dsn string) (*mysql.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse echoes its input: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	q := u.Query()
	socket := q.Get("socket")
	q.Del("socket")
	addr := "tcp(" + hostPort(u.Host, "127.0.0.1", "3306") + ")"
	if socket != "" {
		addr = "unix(" + socket + ")"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, errors.New("want the database name as the path: mysql://USER:PASS@HOST:PORT/DB")
	}
	cfg, err := mysql.ParseDSN("@" + addr + "/" + db + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	return cfg, nil
}

func hostPort(hp, defHost, defPort string) string {
	if hp == "" {
		return net.JoinHostPort(defHost, defPort)
	}
	if _, _, err := net.SplitHostPort(hp); err == nil {
		return hp
	}
	return net.JoinHostPort(strings.Trim(hp, "[]"), defPort)
}

// mysqlTarget completes a go-sql-driver configuration with what lanseedd
// relies on: DATETIME columns read as UTC time.Time (goose's lock needs it
// too) and a bounded connect.
func mysqlTarget(cfg *mysql.Config) target {
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	return target{dialect: "mysql", my: cfg, secret: cfg.Passwd}
}

// RedactDSN returns dsn with any password replaced by "xxxxx", for logs and
// errors.
func RedactDSN(dsn string) string {
	dsn = redactParam(dsn, "password=")
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

// redactParam hides the value of a password=… query or keyword parameter.
func redactParam(dsn, key string) string {
	for off := 0; ; {
		i := strings.Index(dsn[off:], key)
		if i < 0 {
			return dsn
		}
		start := off + i + len(key)
		if i > 0 && !strings.ContainsRune("?& ", rune(dsn[off+i-1])) {
			off = start
			continue
		}
		end := strings.IndexAny(dsn[start:], "& ")
		if end < 0 {
			end = len(dsn) - start
		}
		dsn = dsn[:start] + "xxxxx" + dsn[start+end:]
		off = start + len("xxxxx")
	}
}

// redactedError hides a DSN and its password in an error that a driver may
// have built from them, keeping the error chain for errors.Is and As.
type redactedError struct {
	err    error
	msg    string
	secret string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with dsn and secret removed from its message.
func redact(err error, dsn, secret string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if dsn != "" {
		msg = strings.ReplaceAll(msg, dsn, RedactDSN(dsn))
	}
	// A very short password would blank out ordinary words; such a password
	// is no secret worth the noise.
	if len(secret) >= 3 {
		msg = strings.ReplaceAll(msg, secret, "xxxxx")
		if esc := url.QueryEscape(secret); esc != secret {
			msg = strings.ReplaceAll(msg, esc, "xxxxx")
		}
	}
	return &redactedError{err: err, msg: msg, secret: secret}
}
