package tracker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ServeTCP serves the HTTP tracker protocol on ln until ctx is done, and
// returns nil then. It is a small HTTP/1.1 server that knows only GET
// /announce and /scrape, with keep-alive and no per-request garbage; it
// answers like ServeHTTP, several times faster than net/http. It closes ln.
func (t *Tracker) ServeTCP(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer wg.Wait()
	if tl, ok := ln.(*net.TCPListener); ok && rawAccept {
		return t.acceptRaw(ctx, tl, &wg)
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors or the like: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t.log.Warn("accept failed", slog.Any(logKeyErr, err))
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("tracker: accept: %w", err)
		}
		delay = 0
		wg.Go(func() { t.serveConn(ctx, c) })
	}
}

const (
	// httpReadTimeout bounds reading a request once its first byte came,
	// and writing its answer: a client that sends no more, or reads
	// nothing back, is cut after it.
	httpReadTimeout = 10 * time.Second
	httpMaxLine     = 4096
	// deferAcceptSeconds bounds how long the kernel holds a connection
	// that sends nothing before ServeTCP sees it (Linux; see deferAccept).
	deferAcceptSeconds = int(httpReadTimeout / time.Second)
)

// connState holds one connection's buffers; pooled across connections.
type connState struct {
	br   *bufio.Reader // reads pre
	pre  prefixReader
	in   []byte // what the accept loop read, which pre may return
	line []byte // the request line
	buf  httpBuf
	xff  []string
	w    []byte
}

var connStates = sync.Pool{New: func() any {
	st := &connState{w: make([]byte, 0, 2048), in: make([]byte, httpMaxLine)}
	st.br = bufio.NewReaderSize(&st.pre, httpMaxLine)
	return st
}}

// errNeedMore is what a prefixReader without a connection returns once its
// bytes are read: the request is not all there yet.
var errNeedMore = errors.New("request incomplete")

// prefixReader returns buf, then reads from next, or fails with
// errNeedMore if next is nil.
type prefixReader struct {
	buf  []byte
	next io.Reader
}

func (r *prefixReader) Read(p []byte) (int, error) {
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		return n, nil
	}
	if r.next == nil {
		return 0, errNeedMore
	}
	return r.next.Read(p)
}

// httpConn is what serveConn needs of a connection: a net.Conn, or an
// *os.File around a socket the accept loop took without the net package.
type httpConn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
}

func (t *Tracker) serveConn(ctx context.Context, c net.Conn) {
	var remote netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort().Addr()
	}
	st := connStates.Get().(*connState)
	st.pre = prefixReader{next: c}
	st.br.Reset(&st.pre)
	st.w = st.w[:0]
	t.continueConn(ctx, c, st, remote, true)
}

// continueConn serves c until the client is done or ctx is, and puts st
// back in the pool. st.br reads c (after what was read of it already);
// st.w holds an answer still to write, after which the connection stays
// open if keep.
func (t *Tracker) continueConn(ctx context.Context, c httpConn, st *connState, remote netip.Addr, keep bool) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	defer func() {
		if p := recover(); p != nil {
			t.counters.httpErrors.Add(1)
			t.log.Error("http connection handler panicked", slog.Any(logKeyErr, p))
		}
	}()
	defer func() {
		st.pre = prefixReader{}
		st.br.Reset(&st.pre)
		connStates.Put(st)
	}()
	if len(st.w) > 0 {
		c.SetDeadline(time.Now().Add(httpReadTimeout))
		if _, err := c.Write(st.w); err != nil {
			return
		}
	}
	for keep {
		c.SetDeadline(time.Now().Add(t.cfg.IdleTimeout))
		var err error
		keep, err = t.serveRequest(st, remote, c)
		if len(st.w) > 0 {
			if _, werr := c.Write(st.w); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

var (
	errBadRequest   = errors.New("bad request")
	errTooManyFiles = errors.New("too many open files")
)

// serveRequest reads one request from st.br and puts its answer, if any,
// in st.w for the caller to write. It reports whether the connection stays
// open. Once the request line came, it gives the rest of the request and
// the answer httpReadTimeout on c (when c is not nil).
func (t *Tracker) serveRequest(st *connState, remote netip.Addr, c httpConn) (keep bool, err error) {
	st.w = st.w[:0]
	line, err := st.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			t.writeStatus(st, "414 URI Too Long")
		}
		return false, err
	}
	if c != nil {
		c.SetDeadline(time.Now().Add(httpReadTimeout))
	}
	// The header lines to come may move what st.br holds: keep the
	// request line apart.
	st.line = append(st.line[:0], trimCRLF(line)...)
	line = st.line
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		t.writeStatus(st, "400 Bad Request")
		return false, errBadRequest
	}
	keep = string(proto) != "HTTP/1.0"
	st.xff = st.xff[:0]
	bodyLen := 0
	for {
		h, err := st.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				t.writeStatus(st, "431 Request Header Fields Too Large")
			}
			return false, err
		}
		h = trimCRLF(h)
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(v, []byte("keep-alive")) {
				keep = true
			}
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 {
				t.writeStatus(st, "400 Bad Request")
				return false, errBadRequest
			}
			bodyLen = n
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			// No tracker request has a body; do not try to find its end.
			t.writeStatus(st, "400 Bad Request")
			return false, errBadRequest
		case bytes.EqualFold(k, []byte("X-Forwarded-For")) && len(t.cfg.TrustedProxies) > 0 && len(st.xff) < 8:
			st.xff = append(st.xff, string(v))
		}
	}
	if bodyLen > 0 {
		if bodyLen > httpMaxLine {
			t.writeStatus(st, "413 Content Too Large")
			return false, errBadRequest
		}
		if _, err := st.br.Discard(bodyLen); err != nil {
			return false, err
		}
	}
	if string(method) != "GET" && string(method) != "HEAD" {
		t.writeStatus(st, "405 Method Not Allowed")
		return false, errBadRequest
	}
	path, query, _ := bytes.Cut(target, []byte("?"))
	var body []byte
	switch string(path) {
	case "/announce":
		body = t.announceBody(&st.buf, unsafeString(query), remote, st.xff)
	case "/scrape":
		body = t.scrapeBody(&st.buf, unsafeString(query))
	default:
		w := append(st.w[:0], "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"...)
		w = appendConnection(w, keep)
		st.w = append(w, "not found\n"...)
		return keep, nil
	}
	w := append(st.w[:0], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nContent-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n"...)
	w = appendConnection(w, keep)
	if string(method) == "GET" {
		w = append(w, body...)
	}
	st.w = w
	return keep, nil
}

func appendConnection(w []byte, keep bool) []byte {
	if keep {
		return append(w, "\r\n"...)
	}
	return append(w, "Connection: close\r\n\r\n"...)
}

// writeStatus puts an answer of status alone, which closes the
// connection, in st.w.
func (t *Tracker) writeStatus(st *connState, status string) {
	t.counters.httpErrors.Add(1)
	w := append(st.w[:0], "HTTP/1.1 "...)
	w = append(w, status...)
	st.w = append(w, "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...)
}

func trimCRLF(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
