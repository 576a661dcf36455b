package migrations

import (
	"io/fs"
	"strings"
	"testing"
)

func TestRenderSplitsStatements(t *testing.T) {
	names := Names{Table: `"Catalog Items"`, ID: `"key"`, Path: `"order"`}
	want := map[string]map[string]int{
		"sqlite":   {"triggers": 3, "untriggers": 4, "resync": 2, "drift": 1},
		"postgres": {"triggers": 4, "untriggers": 2, "resync": 2, "drift": 1},
		"mysql":    {"triggers": 3, "untriggers": 4, "resync": 2, "drift": 1},
	}
	// With an expiry column: SQLite gets a fourth trigger, and resync
	// copies expiries in two statements instead of clearing them in one.
	withExpires := map[string]map[string]int{
		"sqlite":   {"triggers": 4, "resync": 3},
		"postgres": {"triggers": 4, "resync": 3},
		"mysql":    {"triggers": 3, "resync": 3},
	}
	expNames := names
	expNames.Expires = `"valid until"`
	for _, d := range Dialects {
		for tmpl, n := range withExpires[d] {
			s, err := Render(d, tmpl, expNames)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Statements) != n {
				t.Errorf("%s %s with expires: %d statements, want %d:\n%s", d, tmpl, len(s.Statements), n, strings.Join(s.Statements, "\n----\n"))
			}
			if !strings.Contains(strings.Join(s.Statements, "\n"), `"valid until"`) {
				t.Errorf("%s %s: the expiry column is not used", d, tmpl)
			}
		}
		if a, b := mustRender(t, d, "triggers", names), mustRender(t, d, "triggers", expNames); a.Hash == b.Hash {
			t.Errorf("%s: trigger hash does not depend on the expiry column", d)
		}
		for tmpl, n := range want[d] {
			s, err := Render(d, tmpl, names)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Statements) != n {
				t.Errorf("%s %s: %d statements, want %d:\n%s", d, tmpl, len(s.Statements), n, strings.Join(s.Statements, "\n----\n"))
			}
			for _, st := range s.Statements {
				if strings.Contains(st, "{{") {
					t.Errorf("%s %s: unrendered: %s", d, tmpl, st)
				}
			}
		}
		other, _ := Render(d, "triggers", Names{Table: `"files"`, ID: `"id"`, Path: `"path"`})
		if s, _ := Render(d, "triggers", names); s.Hash == other.Hash {
			t.Errorf("%s: trigger hash does not depend on the names", d)
		}
	}
}

func mustRender(t *testing.T, dialect, name string, names Names) Script {
	t.Helper()
	s, err := Render(dialect, name, names)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaHidesTemplates(t *testing.T) {
	for _, d := range Dialects {
		fsys, err := Schema(d)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if len(got) < 3 || !strings.HasPrefix(strings.Join(got, " "), "00001_torrents.sql 00002_claims.sql 00003_magnet.sql") {
			t.Errorf("%s: goose sees %v", d, got)
		}
		for _, name := range got {
			if !strings.HasSuffix(name, ".sql") {
				t.Errorf("%s: goose sees %s, which is not a migration", d, name)
			}
		}
	}
}
