package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the listeners' limits (see Config).
const (
	DefaultReadTimeout   = 10 * time.Second
	DefaultWriteTimeout  = 30 * time.Second
	DefaultIdleTimeout   = time.Minute
	DefaultMaxConnsPerIP = 64
)

// DefaultConfig returns the front's defaults.
func DefaultConfig() Config {
	return Config{
		FeedItems:     50,
		WebSeedMode:   WebSeedStandIn,
		ReadTimeout:   DefaultReadTimeout,
		WriteTimeout:  DefaultWriteTimeout,
		IdleTimeout:   DefaultIdleTimeout,
		MaxConnsPerIP: DefaultMaxConnsPerIP,
	}
}

func (c Config) validateLimits() error {
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"http.read_timeout", c.ReadTimeout}, {"http.write_timeout", c.WriteTimeout}, {"http.idle_timeout", c.IdleTimeout},
	} {
		if d.val <= 0 || d.val > time.Hour {
			return fmt.Errorf("%s: must be more than 0 and at most 1h, got %s", d.key, d.val)
		}
	}
	if c.MaxConnsPerIP < 0 {
		return fmt.Errorf("http.max_conns_per_ip: must be >= 0 (0: no limit), got %d", c.MaxConnsPerIP)
	}
	return nil
}

// Server returns an http.Server for h with the limits of cfg. A whole
// request, headers and body, must arrive within ReadTimeout, so that a
// client sending its body a byte at a time does not hold the connection.
// There is no global write timeout, which would cut a slow but steady web
// seed download: the public handler sets a deadline per request that moves
// on as the response is written (see progress).
func Server(cfg Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
}

// progressChunk is how much of a body is written under one write deadline:
// a client reading at 10 KB/s takes it within the default 30 s.
const progressChunk = 256 << 10

// bounded runs h with a write deadline of d that starts again with every
// chunk written: a client that reads nothing is cut after d, one that reads
// slowly is not. d <= 0 sets none.
func bounded(d time.Duration, h http.Handler) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		pw := &progress{ResponseWriter: w, rc: rc, d: d}
		pw.extend()
		if r.Body == nil || r.Body == http.NoBody {
			// The request has been read whole: what is left of
			// ReadTimeout must not cut the response, as the server's
			// background read would then cancel the request's context.
			rc.SetReadDeadline(time.Time{})
		}
		h.ServeHTTP(pw, r)
	})
}

// progress is a ResponseWriter whose write deadline moves on with each
// chunk written.
type progress struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (p *progress) extend() { p.rc.SetWriteDeadline(time.Now().Add(p.d)) }

func (p *progress) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return p.ResponseWriter.Write(b) // still sends the header
	}
	var n int
	for len(b) > 0 {
		p.extend()
		m, err := p.ResponseWriter.Write(b[:min(len(b), progressChunk)])
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// ReadFrom copies r in chunks, each under its own deadline. A file (alone
// or behind the io.LimitedReader that http.ServeContent puts around it) is
// handed on as a file, so that net/http still sends it with sendfile.
func (p *progress) ReadFrom(r io.Reader) (int64, error) {
	src, remain := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, remain = lr.R, lr.N
	}
	var total int64
	for remain != 0 {
		chunk := int64(progressChunk)
		if remain > 0 {
			chunk = min(chunk, remain)
		}
		p.extend()
		n, err := io.Copy(p.ResponseWriter, io.LimitReader(src, chunk))
		total += n
		if remain > 0 {
			remain -= n
		}
		if err != nil {
			return total, err
		}
		if n < chunk {
			break // the end of src
		}
	}
	if lr, ok := r.(*io.LimitedReader); ok {
		lr.N -= total
	}
	return total, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (p *progress) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// LimitPerIP returns ln with at most max connections open at once from one
// client address; a connection beyond is closed as soon as it is accepted.
// 0 means no limit. It keeps a handful of clients from taking every
// descriptor the daemon has.
func LimitPerIP(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &perIPListener{Listener: ln, max: max, open: map[netip.Addr]int{}}
}

type perIPListener struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[netip.Addr]int
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.AddrPort().Addr().Unmap()
		}
		l.mu.Lock()
		ok := l.open[ip] < l.max
		if ok {
			l.open[ip]++
		}
		l.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perIPListener) release(ip netip.Addr) {
	l.mu.Lock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
	l.mu.Unlock()
}

// countedConn gives its address's place back once, when it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
