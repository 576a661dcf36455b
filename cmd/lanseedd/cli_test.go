package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/publish"
	"github.com/lanseedd/lanseedd/seeder"
)

// runCLI runs a command line in-process, as main does, with no config file
// but the ones given and no LANSEEDD_ variable but the ones the test sets.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = exitCode(run(ctx, args, &out, &errs))
	return code, out.String(), errs.String()
}

// isolate clears the LANSEEDD_ variables of the test's environment and
// makes a missing /etc/lanseedd/lanseedd.yml sure: a test names its config.
func isolate(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix) && !notConfig(k) || k == envConfig {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.yml")
	os.WriteFile(empty, nil, 0o600)
	t.Setenv(envConfig, empty)
}

// TestHelpAndExitCodes: -h and help CMD print usage on stdout and exit 0;
// a bad command line exits 2 with usage on stderr; an invalid
// configuration exits 78; a runtime error exits 1.
func TestHelpAndExitCodes(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	missing := "sqlite:" + filepath.Join(dir, "none", "catalog.db")
	commands := [][]string{
		{"run"}, {"files"}, {"files", "add"}, {"files", "rm"}, {"files", "ls"}, {"migrate"}, {"migrate", "status"},
		{"migrate", "uninstall"}, {"verify"}, {"status"}, {"check-config"}, {"tracker"}, {"create"}, {"version"},
		{"completion"},
	}
	for _, c := range commands {
		name := strings.Join(c, " ")
		for _, help := range [][]string{append(slices.Clone(c), "-h"), append(slices.Clone(c), "--help"), append([]string{"help"}, c...)} {
			code, out, errs := runCLI(t, help...)
			if code != 0 || !strings.HasPrefix(out, "usage: lanseedd "+name) || errs != "" {
				t.Errorf("%q: exit %d, stdout %.60q, stderr %.200q; want 0 and usage on stdout", help, code, out, errs)
			}
		}
	}
	for _, c := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{nil, 2, "no command given"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"stauts"}, 2, "did you mean status"},
		{[]string{"run", "extra"}, 2, `unknown command "extra"`},
		{[]string{"run", "-no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"run", "-peer-port", "many"}, 2, `"--peer-port" flag: want a whole number, got "many"`},
		{[]string{"files"}, 2, "files: give one of: add, ls, rm"},
		{[]string{"files", "mv"}, 2, `unknown verb "mv"`},
		{[]string{"files", "add"}, 2, "requires at least 1 arg"},
		{[]string{"files", "rm", "x"}, 2, `"x" is not an id`},
		{[]string{"migrate", "sideways"}, 2, `unknown command "sideways"`},
		{[]string{"verify", "one"}, 2, `"one" is not an id`},
		{[]string{"create"}, 2, "accepts 1 arg"},
		{[]string{"version", "x"}, 2, "unknown command"},
		{[]string{"check-config", "-peer-port", "70000"}, 78, "seeder.peer_port: must be 0..65535, got 70000"},
		{[]string{"check-config", "-log-level", "loud"}, 2, "want debug, info, warn or error"},
		{[]string{"check-config", "-content", dir, "-state", filepath.Join(dir, "state")}, 78, "seeder.state_dir: "},
		{[]string{"run", "-state", dir, "-content", filepath.Join(dir, "films")}, 78, "seeder.content_root: "},
		{[]string{"run", "-catalog", "oracle://x"}, 78, "catalog.dsn:"},
		{[]string{"files", "ls", "-catalog", "oracle://x"}, 78, "catalog.dsn:"},
		{[]string{"tracker", "-max-numwant", "0"}, 78, "tracker.max_numwant"},
		{[]string{"run", "-config", filepath.Join(dir, "nope.yml")}, 78, "config file"},
		{[]string{"files", "ls", "-catalog", missing}, 1, "catalog does not exist"},
		{[]string{"status", "-catalog", missing}, 1, "catalog does not exist"},
		{[]string{"migrate", "status", "-catalog", missing}, 1, "catalog does not exist"},
		{[]string{"verify", "-catalog", missing}, 1, "catalog does not exist"},
		{[]string{"create", "-o", filepath.Join(dir, "x.torrent"), filepath.Join(dir, "nothing")}, 1, "create:"},
	} {
		code, out, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, code, errs, c.code, c.want)
		}
		if code == 2 && !strings.Contains(errs, "usage: lanseedd") {
			t.Errorf("%q: a usage error without usage on stderr:\n%s", c.args, errs)
		}
		if code != 0 && out != "" && !strings.Contains(out, "catalog:") {
			t.Errorf("%q: failed with output on stdout: %q", c.args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("a read command on a missing catalog created its directory: %v", err)
	}
	code, want, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(want, "lanseedd ") {
		t.Errorf("version: exit %d, %q", code, want)
	}
	for _, arg := range []string{"--version", "-version", "-V"} {
		if code, out, errs := runCLI(t, arg); code != 0 || out != want {
			t.Errorf("%s: exit %d, %q (stderr %q), want %q as the version command prints", arg, code, out, errs, want)
		}
	}
}

// TestReadCommandsCreateNothing: files ls, status, migrate status and
// verify on a state directory that does not exist say so, exit 1 and leave
// no file or directory behind, whether the path comes from a flag, the
// environment or the config file.
func TestReadCommandsCreateNothing(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	state, content := filepath.Join(dir, "state"), filepath.Join(dir, "content")
	os.Mkdir(content, 0o755)
	cfgFile := filepath.Join(dir, "lanseedd.yml")
	os.WriteFile(cfgFile, []byte("seeder:\n  state_dir: "+state+"\n  content_root: "+content+"\n"), 0o600)
	for _, read := range [][]string{{"files", "ls"}, {"status"}, {"migrate", "status"}, {"verify"}, {"migrate", "uninstall"}, {"files", "rm", "1"}} {
		for _, how := range []struct {
			name string
			args []string
			env  map[string]string
		}{
			{"flag", []string{"-state", state, "-content", content}, nil},
			{"environment", nil, map[string]string{"LANSEEDD_SEEDER_STATE_DIR": state, "LANSEEDD_SEEDER_CONTENT_ROOT": content}},
			{"config file", []string{"-config", cfgFile}, nil},
		} {
			for k, v := range how.env {
				t.Setenv(k, v)
			}
			code, _, errs := runCLI(t, append(slices.Clone(read), how.args...)...)
			for k := range how.env {
				os.Unsetenv(k)
			}
			if code != 1 || !strings.Contains(errs, filepath.Join(state, "catalog.db")) || !strings.Contains(errs, "does not exist") {
				t.Errorf("%q by %s: exit %d, stderr %q", read, how.name, code, errs)
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Fatalf("%q by %s created %s", read, how.name, state)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left behind: %v", entries)
	}
}

// TestEmptySQLiteFileIsNew: a catalog file with no tables at all (touched,
// or made by the sqlite3 shell) is set up like a new embedded catalog.
func TestEmptySQLiteFileIsNew(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "catalog.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "files", "add", "-catalog", "sqlite:"+db, "a.iso")
	if code != 0 || !strings.HasPrefix(out, "1\ta.iso") {
		t.Fatalf("files add on an empty file: exit %d, %q, %q", code, out, errs)
	}
	code, out, errs = runCLI(t, "files", "ls", "-json", "-catalog", "sqlite:"+db)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 || rows[0]["path"] != "a.iso" {
		t.Fatalf("files ls -json: exit %d, %v, %q, %q", code, err, out, errs)
	}
	if rows[0]["state"] != "pending" || rows[0]["id"] != 1.0 {
		t.Errorf("files ls -json row: %v", rows[0])
	}
}

// TestEveryKeyHasAVariable sets every config key from its environment
// variable, and finds it documented in contrib/lanseedd.yml.
func TestEveryKeyHasAVariable(t *testing.T) {
	isolate(t)
	def := DefaultConfig()
	var want Config = DefaultConfig()
	for _, s := range settingsOf(&want) {
		text, v := sampleValue(t, s)
		t.Setenv(envForKey(s.key), text)
		s.field.Set(v)
	}
	got, warnings, err := (&loader{}).load()
	if err != nil || len(warnings) > 0 {
		t.Fatalf("load: %v %v", err, warnings)
	}
	gotSettings := settingsOf(&got)
	for i, s := range settingsOf(&want) {
		if !reflect.DeepEqual(gotSettings[i].field.Interface(), s.field.Interface()) {
			t.Errorf("%s=%v set %s to %v, want %v", envForKey(s.key), s.field.Interface(), s.key, gotSettings[i].field.Interface(), s.field.Interface())
		}
	}
	_ = def

	documented := exampleKeys(t, "../../contrib/lanseedd.yml")
	for _, s := range settingsOf(&def) {
		if !documented[s.key] {
			t.Errorf("%s is not in contrib/lanseedd.yml", s.key)
		}
	}
	for k := range documented {
		if _, ok := settingFor(&def, k); !ok {
			t.Errorf("contrib/lanseedd.yml documents %s, which is not a key", k)
		}
	}
}

// sampleValue is a value unlike the default for a setting, as text and as
// the value it must parse to.
func sampleValue(t *testing.T, s setting) (string, reflect.Value) {
	t.Helper()
	v := reflect.New(s.field.Type()).Elem()
	switch x := s.field.Addr().Interface().(type) {
	case *string:
		return "sample-" + s.key, reflect.ValueOf("sample-" + s.key)
	case *int:
		return "12345", reflect.ValueOf(12345)
	case *int64:
		return "123456", reflect.ValueOf(int64(123456))
	case *bool:
		return fmt.Sprint(!*x), reflect.ValueOf(!*x)
	case *time.Duration:
		return "7s", reflect.ValueOf(7 * time.Second)
	case *[]string:
		return "http://a.lan/x, http://b.lan/y", reflect.ValueOf([]string{"http://a.lan/x", "http://b.lan/y"})
	case *[]netip.Prefix:
		return "10.0.0.0/8,fd00::/8", reflect.ValueOf([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	case *LogLevel:
		return "error", reflect.ValueOf(LogLevel(8))
	case *seeder.LoadMode:
		return "eager", reflect.ValueOf(seeder.LoadEager)
	case *publish.Command:
		return "check-file --strict", reflect.ValueOf(publish.Command{"check-file", "--strict"})
	}
	t.Fatalf("%s: no sample value for %s", s.key, v.Type())
	return "", v
}

// exampleKeys reads the keys a commented config file shows, set or
// commented out ("# dsn: …").
func exampleKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section := regexp.MustCompile(`^([a-z_]+):\s*$`)
	key := regexp.MustCompile(`^\s+#?\s?([a-z_]+):(\s|$)`)
	keys := map[string]bool{}
	var current string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := section.FindStringSubmatch(sc.Text()); m != nil {
			current = m[1]
		} else if m := key.FindStringSubmatch(sc.Text()); m != nil && current != "" {
			keys[current+"."+m[1]] = true
		}
	}
	return keys
}

// TestEnvironment: a LANSEEDD_ variable that sets nothing is warned of; a
// bad value names the variable; the older name after the flag still works,
// and disagreeing with the key's own variable is an error.
func TestEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("LANSEEDD_SEEDER_CONTENTROOT", "/x")
	t.Setenv("LANSEEDD_CATALOG", "sqlite:/tmp/a.db")
	cfg, warnings, err := (&loader{}).load()
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "LANSEEDD_SEEDER_CONTENTROOT") {
		t.Errorf("warnings %q", warnings)
	}
	if cfg.Catalog.DSN != "sqlite:/tmp/a.db" {
		t.Errorf("LANSEEDD_CATALOG: dsn %q", cfg.Catalog.DSN)
	}
	t.Setenv("LANSEEDD_CATALOG_DSN", "sqlite:/tmp/b.db")
	if _, _, err := (&loader{}).load(); err == nil || !strings.Contains(err.Error(), "LANSEEDD_CATALOG") || !strings.Contains(err.Error(), "LANSEEDD_CATALOG_DSN") {
		t.Errorf("two variables for one key: %v", err)
	}
	os.Unsetenv("LANSEEDD_CATALOG")
	t.Setenv("LANSEEDD_TRACKER_ANNOUNCE_INTERVAL", "often")
	_, _, err = (&loader{}).load()
	if err == nil || !strings.HasPrefix(err.Error(), `LANSEEDD_TRACKER_ANNOUNCE_INTERVAL: want a duration`) {
		t.Errorf("bad value: %v", err)
	}
	if code, _, errs := runCLI(t, "check-config"); code != 78 || !strings.Contains(errs, "LANSEEDD_TRACKER_ANNOUNCE_INTERVAL") {
		t.Errorf("check-config with a bad variable: exit %d, %s", code, errs)
	}
}

// TestConfigFileErrors: unknown keys, values of the wrong kind and
// runtime-only keys are refused with the key and its line.
func TestConfigFileErrors(t *testing.T) {
	isolate(t)
	for _, c := range []struct{ yaml, want string }{
		{"seeder:\n  peer_port: lots\n", `line 2: seeder.peer_port: want a whole number, got "lots"`},
		{"catalog:\n  tabel: files\n", "line 2: catalog.tabel: unknown key (known here: claim_lease, dsn, dsn_file,"},
		{"http:\n  base_url: http://x\n", "http.base_url: unknown key"},
		{"log:\n  level: loud\n", "log.level: want debug, info, warn or error"},
		{"seeder: [1, 2]\n", "seeder: want a section of keys"},
		{"tracker:\n  retry_in: soon\n", "tracker.retry_in: want a duration"},
		{"tracker:\n  trusted_proxies: [nowhere]\n", "tracker.trusted_proxies: want a list of networks"},
		{"seeder:\n  peer_port: 1\n  peer_port: 2\n", "seeder.peer_port: given twice"},
	} {
		file := writeConfig(t, c.yaml)
		code, _, errs := runCLI(t, "check-config", "-config", file)
		if code != 78 || !strings.Contains(errs, c.want) || strings.Contains(errs, "!!") || strings.Contains(errs, "int64") {
			t.Errorf("%q: exit %d, stderr %q; want 78 and %q", c.yaml, code, errs, c.want)
		}
	}
}

// TestCheckConfigRoundTrip: check-config prints values as a config file
// has them (info, 2m), and what it prints reads back as the same
// configuration.
func TestCheckConfigRoundTrip(t *testing.T) {
	isolate(t)
	file := writeConfig(t, "log:\n  level: warn\ntracker:\n  announce_interval: 90s\n  trusted_proxies: [10.0.0.0/8]\n")
	code, out, errs := runCLI(t, "check-config", "-config", file, "-public-url", "http://files.lan")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"level: warn\n", "announce_interval: 1m30s\n", "resync_interval: 5m\n", "claim_lease: 2m\n",
		"poll_interval: 200ms\n", "- 10.0.0.0/8\n", "public_url: http://files.lan\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	printed := writeConfig(t, out)
	a, err := parseRun("-config", file, "-public-url", "http://files.lan")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseRun("-config", printed)
	if err != nil {
		t.Fatalf("check-config's output does not load: %v\n%s", err, out)
	}
	if a.Redacted() != b.Redacted() {
		t.Errorf("check-config's output loads as another configuration:\n%s\n%s", a.Redacted(), b.Redacted())
	}
}

// TestChangedKeys: a reload names every key that changed and is not
// reloadable.
func TestChangedKeys(t *testing.T) {
	a, b := DefaultConfig(), DefaultConfig()
	b.Seeder.Parallel = 7
	b.Seeder.QuietPeriod = time.Minute
	b.Seeder.ExtraAnnounce = []string{"udp://t.lan:6969"}
	b.Log.Level = LogLevel(8)
	b.HTTP.WebSeeds = []string{"http://x.lan/"}
	got := changedKeys(&a, &b)
	want := []string{"seeder.parallel", "seeder.quiet_period", "seeder.extra_announce", "http.web_seeds", "log.level"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changed %q, want %q", got, want)
	}
	var restart []string
	for _, k := range got {
		if !reloadable[k] {
			restart = append(restart, k)
		}
	}
	if !reflect.DeepEqual(restart, want[:3]) {
		t.Errorf("needs a restart: %q", restart)
	}
	for k := range reloadable {
		if _, ok := settingFor(&a, k); !ok {
			t.Errorf("reloadable key %s is not a key", k)
		}
	}
}

// TestStatusJSON: status -json is one JSON object with the counts, the rows
// needing attention and, with no daemon answering, why.
func TestStatusJSON(t *testing.T) {
	isolate(t)
	dsn := dbtest.NewSQLite(t)
	if code, _, errs := runCLI(t, "files", "add", "-catalog", dsn, "a", "b"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := runCLI(t, "status", "-json", "-catalog", dsn, "-admin", "127.0.0.1:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var s struct {
		Rows        map[string]int64 `json:"rows"`
		Attention   []any            `json:"attention"`
		Daemon      *json.RawMessage `json:"daemon"`
		DaemonError string           `json:"daemon_error"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Rows["pending"] != 2 || s.Rows["ready"] != 0 || s.Attention == nil || s.Daemon != nil || !strings.Contains(s.DaemonError, "127.0.0.1:1") {
		t.Errorf("status -json: %s", out)
	}
}

// TestFilesLsStreams: files ls writes every row in id order, as an aligned
// table in blocks and as one JSON array, past a block's length, with paths
// as they are (& < > included), and an empty catalog as [].
func TestFilesLsStreams(t *testing.T) {
	isolate(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")
	runCLI(t, "files", "add", "-catalog", db, "x.iso")
	runCLI(t, "files", "rm", "-catalog", db, "1")
	code, out, errs := runCLI(t, "files", "ls", "-json", "-catalog", db)
	if code != 0 || out != "[]\n" {
		t.Fatalf("files ls -json on an empty catalog: exit %d, %q, %q", code, out, errs)
	}
	const n = 2*tableBlock + 17
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("dir %d/a&b<%d>.iso", i%7, i)
	}
	if code, _, errs := runCLI(t, append([]string{"files", "add", "-catalog", db}, paths...)...); code != 0 {
		t.Fatalf("files add: exit %d, %q", code, errs)
	}

	code, out, errs = runCLI(t, "files", "ls", "-json", "-catalog", db)
	var rows []struct {
		ID    int64   `json:"id"`
		Path  string  `json:"path"`
		State *string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != n {
		t.Fatalf("files ls -json: exit %d, %v, %d rows, stderr %q", code, err, len(rows), errs)
	}
	for i, r := range rows {
		if (i > 0 && r.ID <= rows[i-1].ID) || r.Path != paths[i] || r.State == nil || *r.State != "pending" {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	if !strings.Contains(out, `"path": "dir 0/a&b<0>.iso"`) || !strings.HasPrefix(out, "[\n  {\n    \"id\": ") {
		t.Errorf("files ls -json is not indented with paths as they are:\n%.200s", out)
	}

	code, out, errs = runCLI(t, "files", "ls", "-catalog", db)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != n+1 || strings.Fields(lines[0])[0] != "ID" {
		t.Fatalf("files ls: exit %d, %d lines, stderr %q", code, len(lines), errs)
	}
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != strconv.FormatInt(rows[i].ID, 10) || f[1] != "pending" || !strings.HasSuffix(strings.TrimRight(line, " "), paths[i]) {
			t.Fatalf("line %d: %q", i+1, line)
		}
	}
	// Within a block the paths line up under the header's PATH.
	col := strings.Index(lines[0], "PATH")
	if got := strings.Index(lines[1], paths[0]); got != col {
		t.Errorf("first row's path at column %d, header's PATH at %d", got, col)
	}
}

// TestRunLineReused: the catalog commands take run's flags too, so that a
// run line turns into a migrate, files, nodes, status or verify line by its
// verb; their help does not list them, and status keeps its own -admin (the
// daemon's address to ask, the same key).
func TestRunLineReused(t *testing.T) {
	dir, content := filmsDir(t)
	line := []string{"-state", filepath.Join(dir, "state"), "-content", content,
		"-public-url", "http://fileserver.lan", "-http", ":8080", "-tracker", ":6969", "-peer-port", "6881",
		"-web-seed-mode", "off", "-super-seed=false", "-node", "hall-a"}
	for _, verb := range [][]string{{"migrate"}, {"migrate", "status"}, {"files", "add", "a.mkv"}, {"files", "ls"}, {"nodes"}, {"status"}, {"verify", "-n"}} {
		code, out, errs := runCLI(t, append(slices.Clone(verb), line...)...)
		if code != 0 {
			t.Errorf("%q with run's flags: exit %d\nstdout:\n%s\nstderr:\n%s", verb, code, out, errs)
		}
		_, help, _ := runCLI(t, verb[0], "-h")
		if strings.Contains(help, "public-url") || !strings.Contains(help, "-catalog") {
			t.Errorf("%s -h lists run's flags or lacks its own:\n%s", verb[0], help)
		}
	}
	if _, out, _ := runCLI(t, append([]string{"files", "ls"}, line...)...); !strings.Contains(out, "a.mkv") {
		t.Errorf("files ls after files add with run's flags:\n%s", out)
	}
	if code, _, errs := runCLI(t, "migrate", "-state", filepath.Join(dir, "state"), "-content", content, "-peer-port", "many"); code != 2 || !strings.Contains(errs, `"--peer-port" flag: want a whole number`) {
		t.Errorf("migrate -peer-port many: exit %d, %s; want 2 and the flag's error", code, errs)
	}
}

// TestCatalogCommandsNeverWriteContent: the commands that open the catalog
// without the daemon refuse, as run does, a state directory or an embedded
// SQLite catalog inside the content root, and leave the content as it was.
func TestCatalogCommandsNeverWriteContent(t *testing.T) {
	dir, content := filmsDir(t)
	snapshot.Guard(t, content)
	outside := filepath.Join(dir, "state")
	for _, where := range []struct {
		name, key string
		args      []string
	}{
		{"state inside content", "seeder.state_dir", []string{"-state", filepath.Join(content, ".lanseedd"), "-content", content}},
		{"SQLite catalog inside content", "catalog.dsn", []string{"-state", outside, "-content", content, "-catalog", "sqlite:" + filepath.Join(content, "catalog.db")}},
	} {
		for _, cmd := range [][]string{{"migrate"}, {"migrate", "status"}, {"files", "add", "a.mkv"}, {"files", "ls"},
			{"files", "rm", "1"}, {"nodes"}, {"nodes", "forget", "x"}, {"status"}, {"verify"}, {"run"}, {"check-config"}} {
			code, _, errs := runCLI(t, append(slices.Clone(cmd), where.args...)...)
			if code != 78 || !strings.Contains(errs, where.key+": ") || !strings.Contains(errs, "must never write to content") {
				t.Errorf("%s: %q: exit %d, stderr:\n%s\nwant exit 78 naming %s", where.name, cmd, code, errs, where.key)
			}
		}
	}
	if code, out, errs := runCLI(t, "files", "add", "-state", outside, "-content", content, "a.mkv"); code != 0 {
		t.Errorf("files add with the state outside the content: exit %d\n%s%s", code, out, errs)
	}
}

// filmsDir isolates the test and makes a directory holding a content root,
// films, with one file, a.mkv.
func filmsDir(t *testing.T) (dir, content string) {
	t.Helper()
	isolate(t)
	dir = t.TempDir()
	content = filepath.Join(dir, "films")
	if err := os.Mkdir(content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(content, "a.mkv"), []byte("film"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, content
}
