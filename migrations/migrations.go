// Package migrations holds, per SQL dialect, the schema of lanseedd's own
// tables (goose migrations) and the templates of the triggers it installs on
// the catalog table.
package migrations

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
)

//go:embed sqlite postgres mysql
var files embed.FS

// Dialects lists the SQL dialects with migrations.
var Dialects = []string{"sqlite", "postgres", "mysql"}

// Schema returns the goose migrations of lanseedd's own tables for dialect.
func Schema(dialect string) (fs.FS, error) {
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %q: %w", dialect, err)
	}
	return schemaOnly{sub}, nil
}

// schemaOnly hides the templates from goose, which reads every *.sql file.
type schemaOnly struct{ fs.FS }

func (s schemaOnly) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(s.FS, name)
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tmpl") {
			out = append(out, e)
		}
	}
	return out, nil
}

// Names are the catalog's table and column names, already quoted for the
// dialect they are rendered into.
type Names struct {
	Table string
	ID    string
	Path  string
	// Expires is the catalog's expiry column; "" when none is configured.
	Expires string
}

// Script is rendered SQL: its statements and a hash that identifies it, so
// that triggers are re-installed when the configured names change.
type Script struct {
	Statements []string
	Hash       string
}

// Render renders template name ("triggers", "untriggers", "resync",
// "drift") of
// dialect with the given names.
func Render(dialect, name string, names Names) (Script, error) {
	path := dialect + "/" + name + ".sql.tmpl"
	text, err := files.ReadFile(path)
	if err != nil {
		return Script{}, fmt.Errorf("migrations: no %s template for %q: %w", name, dialect, err)
	}
	tmpl, err := template.New(path).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return Script{}, fmt.Errorf("migrations: parse %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, names); err != nil {
		return Script{}, fmt.Errorf("migrations: render %s: %w", path, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return Script{Statements: split(buf.String()), Hash: hex.EncodeToString(sum[:])}, nil
}

// split cuts a script into statements. A statement ends with a line that
// ends in ";" outside a trigger body; a body opens with a line that is just
// "BEGIN" (or ends in " BEGIN") and closes with a line that is just "END;".
// PostgreSQL bodies are dollar-quoted: nothing between a line holding "$$"
// and the next one ends a statement. Comment lines are dropped.
func split(script string) []string {
	var (
		out      []string
		cur      strings.Builder
		inBody   bool
		inDollar bool
	)
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		upper := strings.ToUpper(trimmed)
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.Count(line, "$$")%2 == 1 {
			inDollar = !inDollar
		}
		switch {
		case inDollar:
		case upper == "BEGIN" || strings.HasSuffix(upper, " BEGIN"):
			inBody = true
		case upper == "END;":
			inBody = false
			fallthrough
		case !inBody && strings.HasSuffix(trimmed, ";"):
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
