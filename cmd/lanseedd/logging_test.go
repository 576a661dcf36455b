package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/testenv"
	"github.com/lanseedd/lanseedd/seeder"
)

// fakeJournal is a file standing in for the journal's stream: its device
// and inode are put in JOURNAL_STREAM, as systemd does for the real one.
func fakeJournal(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	return f
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestLogPriorityOnJournal(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		for _, c := range []struct {
			level slog.Level
			want  string
		}{
			{slog.LevelDebug - 4, "<7>"},
			{slog.LevelDebug, "<7>"},
			{slog.LevelInfo, "<6>"},
			{slog.LevelInfo + 2, "<6>"},
			{slog.LevelWarn, "<4>"},
			{slog.LevelError, "<3>"},
			{slog.LevelError + 4, "<3>"},
		} {
			t.Run(format+"/"+c.level.String(), func(t *testing.T) {
				f := fakeJournal(t)
				logger := newLogger(f, format, slog.LevelDebug-8)
				logger.Log(context.Background(), c.level, "hello", "k", "v")
				lines := readLines(t, f.Name())
				if len(lines) != 1 {
					t.Fatalf("want one line, got %q", lines)
				}
				line, ok := strings.CutPrefix(lines[0], c.want)
				if !ok {
					t.Fatalf("line %q does not start with %s", lines[0], c.want)
				}
				if strings.Contains(line, "time") {
					t.Errorf("line %q has a time: the journal stamps lines itself", line)
				}
				if format == "json" && !json.Valid([]byte(line)) {
					t.Errorf("line after the prefix is not JSON: %q", line)
				}
			})
		}
	}
}

func TestLogOffJournal(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream func(t *testing.T, f *os.File) string
	}{
		{"no JOURNAL_STREAM", func(*testing.T, *os.File) string { return "" }},
		// A child of a service inherits the variable with stderr
		// redirected elsewhere.
		{"another stream", func(t *testing.T, f *os.File) string {
			fakeJournal(t)
			return os.Getenv("JOURNAL_STREAM")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			t.Setenv("JOURNAL_STREAM", c.stream(t, f))
			newLogger(f, "text", slog.LevelInfo).Warn("hello")
			line := readLines(t, f.Name())[0]
			if strings.HasPrefix(line, "<") || !strings.HasPrefix(line, "time=") {
				t.Errorf("line %q: want a time and no priority off the journal", line)
			}
		})
	}
	t.Run("not a file", func(t *testing.T) {
		fakeJournal(t)
		var buf bytes.Buffer
		newLogger(&buf, "text", slog.LevelInfo).Warn("hello")
		if strings.HasPrefix(buf.String(), "<") {
			t.Errorf("line %q has a priority", buf.String())
		}
	})
}

func TestLogDurationsAsText(t *testing.T) {
	for _, c := range []struct {
		format, want string
	}{
		{"json", `"took":"1.5s","g":{"wait":"2m0s"}`},
		{"text", `took=1.5s g.wait=2m0s`},
	} {
		t.Run(c.format, func(t *testing.T) {
			var buf bytes.Buffer
			newLogger(&buf, c.format, slog.LevelInfo).Info("done",
				"took", 1500*time.Millisecond, slog.Group("g", "wait", 2*time.Minute))
			if !strings.Contains(buf.String(), c.want) {
				t.Errorf("got %s\nwant it to hold %s", buf.String(), c.want)
			}
		})
	}
}

// topKeys returns the keys of a JSON object in order, repeats included,
// which decoding into a map would hide.
func topKeys(line string) ([]string, map[string]any, error) {
	var v map[string]any
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return nil, nil, err
	}
	d := json.NewDecoder(strings.NewReader(line))
	d.Token() // {
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, nil, err
		}
	}
	return keys, v, nil
}

func TestLogOneComponentKey(t *testing.T) {
	t.Run("nested With", func(t *testing.T) {
		var buf bytes.Buffer
		root := newLogger(&buf, "json", slog.LevelInfo)
		// As the daemon gives the seeder its logger and the seeder its
		// BitTorrent client, with attributes and a group between.
		l := root.With("component", "seeder").With("file_id", 7).With("component", "bittorrent")
		l.Info("one", "path", "a")
		l.WithGroup("g").Info("two", "x", 1)
		l.Info("three", "component", "conn")
		root.Info("four")
		want := []struct {
			component string
			keys      string
		}{
			{"seeder.bittorrent", "level msg file_id component path"},
			{"seeder.bittorrent", "level msg file_id component g"},
			{"seeder.bittorrent.conn", "level msg file_id component"},
			{"", "time level msg"},
		}
		sc := bufio.NewScanner(&buf)
		for i := 0; sc.Scan(); i++ {
			keys, v, err := topKeys(sc.Text())
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			got := strings.Join(keys, " ")
			got = strings.TrimPrefix(got, "time ")
			if w := strings.TrimPrefix(want[i].keys, "time "); got != w {
				t.Errorf("line %d keys %q, want %q", i, got, w)
			}
			if c, _ := v["component"].(string); c != want[i].component {
				t.Errorf("line %d component %q, want %q", i, c, want[i].component)
			}
		}
	})

	t.Run("daemon", func(t *testing.T) {
		// The whole daemon logs through newLogger, its BitTorrent client
		// included: no line may carry the key twice.
		var out logBuffer
		content := t.TempDir()
		testenv.RandomFile(t, filepath.Join(content, "a.bin"), 100<<10)
		// Eager, with an extra tracker that refuses (on loopback): the
		// BitTorrent client has a torrent, announces it, and logs.
		m := NewMain(testConfig(t, content, func(c *Config) {
			c.Seeder.Load = seeder.LoadEager
			c.Seeder.ExtraAnnounce = []string{"http://127.0.0.1:9/announce"}
		}), newLogger(&out, "json", slog.LevelDebug))
		if err := m.Start(context.Background()); err != nil {
			m.Close()
			t.Fatal(err)
		}
		d := &testDaemon{Main: m}
		if _, err := m.Store.DB().Exec("INSERT INTO files(path) VALUES ('a.bin')"); err != nil {
			t.Fatal(err)
		}
		d.waitState(t, 1, lanseedd.StateReady)
		for end := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), `"seeder.bittorrent`) && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			keys, v, err := topKeys(sc.Text())
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			n := 0
			for _, k := range keys {
				if k == "component" {
					n++
				}
			}
			if n > 1 {
				t.Errorf("%d component keys: %s", n, sc.Text())
			}
			c, _ := v["component"].(string)
			seen[c]++
		}
		for _, c := range []string{"seeder", "seeder.bittorrent", "tracker"} {
			if seen[c] == 0 {
				t.Errorf("no line from component %q; lines by component: %v", c, seen)
			}
		}
		if t.Failed() {
			t.Log(out.String())
		}
	})
}
