package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
)

// dialect holds what differs between the SQL databases lanseedd speaks.
type dialect struct {
	name  string // the migrations/ folder
	goose goose.Dialect
	// now is the SQL expression of the current time, in the format the
	// triggers write.
	now string
	// later returns the SQL expression of the time d from now.
	later func(d time.Duration) string
	// quote quotes an identifier.
	quote func(string) string
	// rebind turns "?" placeholders into the dialect's own.
	rebind func(string) string
	// idParam is a placeholder for an int64 compared with the catalog's id
	// column, which may be narrower: PostgreSQL types a bare placeholder as
	// the column (int4 for a serial) and refuses an int64 beyond it, as the
	// walk's first and last bounds are.
	idParam string
	// transactionalDDL says whether CREATE/DROP TRIGGER can be rolled back.
	transactionalDDL bool
	// missingTable reports whether err says a table does not exist.
	missingTable func(error) bool
}

var sqliteDialect = dialect{
	name:  "sqlite",
	goose: goose.DialectSQLite3,
	now:   `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
	later: func(d time.Duration) string {
		return fmt.Sprintf(`strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '+%.3f seconds')`, d.Seconds())
	},
	quote:            quoteDouble,
	rebind:           func(q string) string { return q },
	idParam:          "?",
	transactionalDDL: true,
	missingTable:     func(err error) bool { return strings.Contains(err.Error(), "no such table") },
}

var postgresDialect = dialect{
	name:  "postgres",
	goose: goose.DialectPostgres,
	now:   `now()`,
	later: func(d time.Duration) string {
		return fmt.Sprintf(`now() + interval '%d milliseconds'`, d.Milliseconds())
	},
	quote:            quoteDouble,
	rebind:           rebindDollar,
	idParam:          "CAST(? AS bigint)",
	transactionalDDL: true,
	missingTable: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "42P01" // undefined_table
	},
}

var mysqlDialect = dialect{
	name:  "mysql",
	goose: goose.DialectMySQL,
	now:   `UTC_TIMESTAMP(6)`,
	later: func(d time.Duration) string {
		return fmt.Sprintf(`UTC_TIMESTAMP(6) + INTERVAL %d MICROSECOND`, d.Microseconds())
	},
	quote:   quoteBacktick,
	rebind:  func(q string) string { return q },
	idParam: "?",
	missingTable: func(err error) bool {
		var me *mysql.MySQLError
		return errors.As(err, &me) && me.Number == 1146 // ER_NO_SUCH_TABLE
	},
}

// quoteDouble quotes an identifier the SQL-standard way: "a ""b""".
func quoteDouble(id string) string {
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}

// quoteBacktick quotes a MySQL identifier: `a “b`.
func quoteBacktick(id string) string {
	return "`" + strings.ReplaceAll(id, "`", "``") + "`"
}

// rebindDollar numbers "?" placeholders as $1, $2…, leaving string literals
// and quoted identifiers alone.
func rebindDollar(q string) string {
	var (
		b     strings.Builder
		n     int
		quote byte
	)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
