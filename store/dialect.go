package store

import (
	"strings"

	"github.com/pressly/goose/v3"
)

// dialect holds what differs between the SQL databases lanseedd speaks.
type dialect struct {
	name  string // the migrations/ folder
	goose goose.Dialect
	// now is the SQL expression of the current time, in the format the
	// triggers write.
	now string
	// quote quotes an identifier.
	quote func(string) string
	// rebind turns "?" placeholders into the dialect's own.
	rebind func(string) string
}

var sqliteDialect = dialect{
	name:   "sqlite",
	goose:  goose.DialectSQLite3,
	now:    `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
	quote:  quoteDouble,
	rebind: func(q string) string { return q },
}

// quoteDouble quotes an identifier the SQL-standard way: "a ""b""".
func quoteDouble(id string) string {
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}
