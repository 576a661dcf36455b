package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/torrentfile"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// webSeedFixture is a content root with a single-file row (1, film.bin) and
// a multi-file row (2, Series/), their .torrent files, and a secret of the
// same size as film.bin outside the root.
type webSeedFixture struct {
	root, outside string
	film, secret  []byte
	cat           *fakeCatalog
	pub           *Public
}

func newWebSeedFixture(tb testing.TB) *webSeedFixture {
	tb.Helper()
	base := tb.TempDir()
	fx := &webSeedFixture{root: filepath.Join(base, "content"), outside: filepath.Join(base, "outside"), cat: &fakeCatalog{}}
	torrents := filepath.Join(base, "torrents")
	for _, d := range []string{fx.root, fx.outside, torrents, filepath.Join(fx.root, "Series", "s1")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	fx.film = bytes.Repeat([]byte("inside "), 1000)
	fx.secret = bytes.Repeat([]byte("SECRET "), 1000)
	for name, data := range map[string][]byte{
		filepath.Join(fx.root, "film.bin"):               fx.film,
		filepath.Join(fx.root, "Series", "s1", "e1.bin"): []byte("episode one"),
		filepath.Join(fx.root, "Series", "e2.bin"):       []byte("episode two"),
		filepath.Join(fx.outside, "secret.bin"):          fx.secret,
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	// Links the torrents do not list: one out, one in.
	os.Symlink(filepath.Join(fx.outside, "secret.bin"), filepath.Join(fx.root, "Series", "out.bin"))
	os.Symlink("../film.bin", filepath.Join(fx.root, "Series", "in.bin"))
	for id, rel := range map[int64]string{1: "film.bin", 2: "Series"} {
		abs := filepath.Join(fx.root, rel)
		l, err := torrentfile.ScanBeneath(fx.root, abs)
		if err != nil {
			tb.Fatal(err)
		}
		mi, err := torrentfile.Create(context.Background(), abs, torrentfile.CreateOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(filepath.Join(torrents, itoa(id)+".torrent"))
		if err != nil {
			tb.Fatal(err)
		}
		if err := mi.Write(out); err != nil {
			tb.Fatal(err)
		}
		out.Close()
		fx.cat.rows = append(fx.cat.rows, lanseedd.Row{FileID: id, Path: rel, State: lanseedd.StateReady, Name: l.Name,
			InfoHash: mi.HashInfoBytes().HexString(), Size: l.Total, Fingerprint: l.Fingerprint})
	}
	fx.pub = NewPublic(Config{BaseURL: "http://fs.lan", WebSeedMode: WebSeedAlways}, fx.cat,
		fakeSeeder{root: fx.root, dir: torrents}, slog.New(slog.DiscardHandler))
	return fx
}

// get serves one request and returns its status and body.
func (fx *webSeedFixture) get(tb testing.TB, path string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest("GET", "http://fs.lan"+path, nil)
	if err != nil {
		return 0, nil
	}
	w := httptest.NewRecorder()
	fx.pub.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, body
}

func TestWebSeedServesPublishedFiles(t *testing.T) {
	fx := newWebSeedFixture(t)
	if code, body := fx.get(t, "/ws/1/film.bin"); code != 200 || !bytes.Equal(body, fx.film) {
		t.Errorf("film.bin: %d, %d bytes", code, len(body))
	}
	if code, body := fx.get(t, "/ws/2/Series/s1/e1.bin"); code != 200 || string(body) != "episode one" {
		t.Errorf("Series/s1/e1.bin: %d %q", code, body)
	}
	// webtorrent asks for a single file at the web seed URL itself.
	if code, body := fx.get(t, "/ws/1/"); code != 200 || !bytes.Equal(body, fx.film) {
		t.Errorf("/ws/1/: %d, %d bytes", code, len(body))
	}
	for _, p := range []string{"/ws/2/", "/ws/2/Series/out.bin", "/ws/2/Series/in.bin", "/ws/2/Series/s1", "/ws/1/..%2foutside%2fsecret.bin"} {
		if code, body := fx.get(t, p); code != 404 {
			t.Errorf("%s: %d %q, want 404", p, code, body)
		}
	}
}

// TestWebSeedRefusesReplacedFile: once a ready row's file is replaced, by
// a link out of the root (same size), another file or a FIFO, the web seed
// answers 503 at once and never sends another file's bytes.
func TestWebSeedRefusesReplacedFile(t *testing.T) {
	for what, replace := range map[string]func(fx *webSeedFixture, tmp string) error{
		"link out": func(fx *webSeedFixture, tmp string) error {
			return os.Symlink(filepath.Join(fx.outside, "secret.bin"), tmp)
		},
		"copy":      func(fx *webSeedFixture, tmp string) error { return os.WriteFile(tmp, fx.secret, 0o644) },
		"FIFO":      func(_ *webSeedFixture, tmp string) error { return syscall.Mkfifo(tmp, 0o644) },
		"directory": func(_ *webSeedFixture, tmp string) error { return os.Mkdir(tmp, 0o755) },
	} {
		t.Run(what, func(t *testing.T) {
			fx := newWebSeedFixture(t)
			tmp := filepath.Join(fx.root, ".tmp")
			if err := replace(fx, tmp); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(fx.root, "film.bin"))
			if err := os.Rename(tmp, filepath.Join(fx.root, "film.bin")); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				code, body := fx.get(t, "/ws/1/film.bin")
				if code != http.StatusServiceUnavailable && code != http.StatusNotFound {
					t.Errorf("%d %q, want 503", code, body)
				}
				if bytes.Contains(body, []byte("SECRET")) {
					t.Errorf("served the outside file")
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the request did not answer within 5 s")
			}
		})
	}
}

// FuzzWebSeedPath requests /ws/ paths of every shape: nothing panics, and
// an answer is a 404, a 503 or a file the torrents list, never the secret
// outside the root.
func FuzzWebSeedPath(f *testing.F) {
	for _, s := range []string{
		"1/film.bin", "2/Series/s1/e1.bin", "2/Series/e2.bin", "2/Series", "2/Series/", "2/Series/out.bin",
		"2/Series/in.bin", "1/..%2f..%2foutside%2fsecret.bin", "1/%2e%2e/secret.bin", "..%2f..%2fetc%2fpasswd",
		"2/Series/s1/../e2.bin", "2/Series//s1/e1.bin", "1/film.bin/", "01/film.bin", "-1/film.bin",
		"9223372036854775808/x", "1/film.bin%00", "2/Series/s1\\e1.bin", "1/", "", "3/x",
	} {
		f.Add(s)
	}
	fx := newWebSeedFixture(f)
	allowed := [][]byte{fx.film, []byte("episode one"), []byte("episode two")}
	f.Fuzz(func(t *testing.T, p string) {
		code, body := fx.get(t, "/ws/"+p)
		switch code {
		case 0, http.StatusNotFound, http.StatusServiceUnavailable, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusBadRequest:
			if bytes.Contains(body, []byte("SECRET")) {
				t.Fatalf("/ws/%s: %d with the secret", p, code)
			}
		case http.StatusOK:
			for _, a := range allowed {
				if bytes.Equal(body, a) {
					return
				}
			}
			t.Fatalf("/ws/%s: 200 with %d bytes that no torrent lists", p, len(body))
		default:
			t.Fatalf("/ws/%s: unexpected %d %q", p, code, body)
		}
	})
}
