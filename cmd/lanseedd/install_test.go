package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/lanseedd/lanseedd/internal/dbtest"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// cli runs the built binary as an operator would, in a working directory of
// its own, with no environment but PATH, HOME and the variables given.
type cli struct {
	t   *testing.T
	bin string
	dir string // working directory; must stay empty
	env []string
}

func newCLI(t *testing.T, bin string, env ...string) *cli {
	return &cli{t: t, bin: bin, dir: t.TempDir(), env: append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	return cmd
}

// run runs one command to its end and returns its exit status and output.
func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errs bytes.Buffer
	cmd := c.command(args...)
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("%q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errs.String()
}

// must runs a command that must succeed.
func (c *cli) must(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("lanseedd %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// checkClean fails if a command left anything in the working directory
// (such as a ./lanseedd-data it made up).
func (c *cli) checkClean() {
	c.t.Helper()
	if entries, _ := os.ReadDir(c.dir); len(entries) > 0 {
		c.t.Errorf("commands left %v in their working directory", entries)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if pc, err := net.ListenPacket("udp", addr); err == nil { // the tracker's UDP side
			pc.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

// TestInstallPath walks the README's install path on PostgreSQL and
// MariaDB with the real binary: with only a config file, then with only
// LANSEEDD_ variables, migrate, run, files add, files ls -json, status
// -json and verify all act on that one catalog, and nothing is created in
// the working directory.
func TestInstallPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, b := range []dbtest.Backend{{Name: "postgres", New: dbtest.NewPostgres}, {Name: "mysql", New: dbtest.NewMySQL}} {
		for _, how := range []string{"config file", "environment"} {
			t.Run(b.Name+"/"+how, func(t *testing.T) {
				dsn := b.New(t)
				siteTable(t, dsn)
				content, state := t.TempDir(), t.TempDir()
				data := testenv.RandomFile(t, filepath.Join(content, "Фильм.bin"), 1<<20+7)
				snapshot.Guard(t, content)
				admin := freeAddr(t)
				settings := [][2]string{
					{"catalog.dsn", dsn}, {"seeder.content_root", content}, {"seeder.state_dir", state},
					{"seeder.peer_port", "0"}, {"http.listen", freeAddr(t)}, {"tracker.listen", freeAddr(t)},
					{"admin.listen", admin}, {"http.public_url", "http://127.0.0.1"},
				}
				var c *cli
				if how == "config file" {
					file := filepath.Join(t.TempDir(), "lanseedd.yml")
					os.WriteFile(file, []byte(yamlOf(settings)), 0o600)
					c = newCLI(t, bin, envConfig+"="+file)
				} else {
					var env []string
					for _, s := range settings {
						env = append(env, envForKey(s[0])+"="+s[1])
					}
					// No config file at all, even if the machine has one.
					c = newCLI(t, bin, append(env, envConfig+"=/dev/null")...)
				}

				if code, _, errs := c.run("run"); code != 1 || !strings.Contains(errs, "migrate") {
					t.Fatalf("run before migrate: exit %d, %s", code, errs)
				}
				c.must("check-config")
				if out := c.must("migrate"); !strings.Contains(out, "catalog migrated") {
					t.Fatalf("migrate: %s", out)
				}
				if out := c.must("migrate", "status"); strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
					t.Errorf("migrate status: %s", out)
				}
				id := strings.Fields(c.must("files", "add", "Фильм.bin"))[0]

				daemon := c.command("run")
				var logs bytes.Buffer
				daemon.Stderr = &logs
				if err := daemon.Start(); err != nil {
					t.Fatal(err)
				}
				stopped := false
				stop := func() {
					if !stopped {
						stopped = true
						daemon.Process.Signal(syscall.SIGTERM)
						daemon.Wait()
					}
				}
				t.Cleanup(stop)

				var rows []catalogFile
				for end := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
					rows = nil
					if err := json.Unmarshal([]byte(c.must("files", "ls", "-json")), &rows); err != nil {
						t.Fatal(err)
					}
					if len(rows) == 1 && rows[0].State != nil && *rows[0].State == "ready" {
						break
					}
					if time.Now().After(end) {
						t.Fatalf("row not ready: %+v\n%s", rows, logs.String())
					}
				}
				if strconv.FormatInt(rows[0].ID, 10) != id || rows[0].Path != "Фильм.bin" || len(rows[0].InfoHash) != 40 {
					t.Errorf("files ls -json: %+v", rows[0])
				}
				var s status
				if err := json.Unmarshal([]byte(c.must("status", "-json")), &s); err != nil {
					t.Fatal(err)
				}
				if s.Rows["ready"] != 1 || s.Daemon == nil || s.Daemon.Seeder.Load != "demand" || strings.Contains(s.Catalog, "sqlite") {
					t.Errorf("status -json: %+v (daemon: %+v)", s, s.Daemon)
				}
				if out := c.must("verify", id); !strings.Contains(out, id+"\tok") {
					t.Errorf("verify: %s", out)
				}
				// The daemon's torrent is the file's.
				resp, body := httpGet(t, "http://"+settings[4][1]+"/t/"+id+".torrent")
				mi, err := metainfo.Load(bytes.NewReader(body))
				if resp.StatusCode != 200 || err != nil {
					t.Fatalf("GET /t/%s.torrent: %s %v", id, resp.Status, err)
				}
				if got := download(t, mi); !bytes.Equal(got, data) {
					t.Errorf("downloaded %d bytes that differ from the file", len(got))
				}
				stop()
				if daemon.ProcessState.ExitCode() != 0 {
					t.Errorf("run exited %d after SIGTERM:\n%s", daemon.ProcessState.ExitCode(), logs.String())
				}
				c.checkClean()
			})
		}
	}
}

// siteTable creates the catalog table a site would have in a new server
// database, with the 32-bit id most sites have (a serial, an INT).
func siteTable(t *testing.T, dsn string) {
	t.Helper()
	driver, source := "pgx", dsn
	ddl := "CREATE TABLE files (id SERIAL PRIMARY KEY, path TEXT NOT NULL)"
	if !strings.HasPrefix(dsn, "postgres") {
		driver = "mysql"
		ddl = "CREATE TABLE files (id INT AUTO_INCREMENT PRIMARY KEY, path VARCHAR(1000) NOT NULL) CHARACTER SET utf8mb4"
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		t.Fatal(err)
	}
}

// yamlOf writes settings (key, value) as a config file.
func yamlOf(settings [][2]string) string {
	var b strings.Builder
	sections := map[string][]string{}
	var order []string
	for _, s := range settings {
		sec, key, _ := strings.Cut(s[0], ".")
		if _, ok := sections[sec]; !ok {
			order = append(order, sec)
		}
		sections[sec] = append(sections[sec], fmt.Sprintf("  %s: %q\n", key, s[1]))
	}
	for _, sec := range order {
		b.WriteString(sec + ":\n" + strings.Join(sections[sec], ""))
	}
	return b.String()
}

// TestPrecedenceEveryCommand: for every command that reads the
// configuration, a flag overrides the environment, which overrides the
// config file. Each level names another SQLite catalog (another tracker
// address for the tracker), and what the command acts on shows which won.
func TestPrecedenceEveryCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	content := t.TempDir()
	catalogs := map[string]string{}
	trackers := map[string]string{}
	for _, level := range []string{"file", "env", "flag"} {
		catalogs[level] = filepath.Join(dir, level, "catalog.db")
		trackers[level] = freeAddr(t)
	}
	file := filepath.Join(dir, "lanseedd.yml")
	os.WriteFile(file, []byte(yamlOf([][2]string{
		{"catalog.dsn", "sqlite:" + catalogs["file"]}, {"seeder.content_root", content}, {"seeder.state_dir", filepath.Join(dir, "state")},
		{"seeder.peer_port", "0"}, {"http.listen", "127.0.0.1:0"}, {"tracker.listen", trackers["file"]}, {"admin.listen", "127.0.0.1:0"},
		{"http.public_url", "http://127.0.0.1"},
	})), 0o600)

	exists := func(level string) bool { _, err := os.Stat(catalogs[level]); return err == nil }
	reset := func() {
		for _, level := range []string{"file", "env", "flag"} {
			os.RemoveAll(filepath.Dir(catalogs[level]))
		}
	}
	for _, levels := range [][]string{{"file"}, {"file", "env"}, {"file", "env", "flag"}} {
		winner := levels[len(levels)-1]
		env := []string{envConfig + "=" + file}
		var catalogFlag, listenFlag []string
		if len(levels) > 1 {
			env = append(env, envForKey("catalog.dsn")+"=sqlite:"+catalogs["env"], envForKey("tracker.listen")+"="+trackers["env"])
		}
		if len(levels) > 2 {
			catalogFlag = []string{"-catalog", "sqlite:" + catalogs["flag"]}
			listenFlag = []string{"-listen", trackers["flag"]}
		}
		c := newCLI(t, bin, env...)
		t.Run(strings.Join(levels, "+"), func(t *testing.T) {
			c.t = t
			reset()
			for _, read := range [][]string{{"files", "ls"}, {"status"}, {"migrate", "status"}, {"verify"}, {"files", "rm", "1"}, {"migrate", "uninstall"}} {
				code, _, errs := c.run(append(read, catalogFlag...)...)
				if code != 1 || !strings.Contains(errs, catalogs[winner]+": catalog does not exist") {
					t.Errorf("%q: exit %d, %s; want the %s's catalog %s", read, code, errs, winner, catalogs[winner])
				}
			}
			for _, write := range [][]string{{"migrate"}, {"files", "add", "x.bin"}} {
				reset()
				c.must(append(write, catalogFlag...)...)
				for _, level := range []string{"file", "env", "flag"} {
					if exists(level) != (level == winner) {
						t.Errorf("%q: %s's catalog exists: %v; want only the %s's", write, level, exists(level), winner)
					}
				}
			}
			if out := c.must(append([]string{"check-config"}, catalogFlag...)...); !strings.Contains(out, "dsn: sqlite:"+catalogs[winner]+"\n") {
				t.Errorf("check-config shows another catalog than the %s's:\n%s", winner, out)
			}

			reset()
			daemon := c.command(append([]string{"run"}, catalogFlag...)...)
			var logs bytes.Buffer
			daemon.Stderr = &logs
			if err := daemon.Start(); err != nil {
				t.Fatal(err)
			}
			for end := time.Now().Add(20 * time.Second); !exists(winner) && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			daemon.Process.Signal(syscall.SIGTERM)
			daemon.Wait()
			for _, level := range []string{"file", "env", "flag"} {
				if exists(level) != (level == winner) {
					t.Errorf("run: %s's catalog exists: %v; want only the %s's\n%s", level, exists(level), winner, logs.String())
				}
			}

			tr := c.command(append([]string{"tracker"}, listenFlag...)...)
			var out bytes.Buffer
			tr.Stdout, tr.Stderr = &out, &out
			if err := tr.Start(); err != nil {
				t.Fatal(err)
			}
			for end := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "listening") && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			tr.Process.Signal(syscall.SIGTERM)
			tr.Wait()
			if !strings.Contains(out.String(), "tracker listening on "+trackers[winner]) {
				t.Errorf("tracker: %q; want it on the %s's address %s", out.String(), winner, trackers[winner])
			}
			c.checkClean()
		})
	}
}
