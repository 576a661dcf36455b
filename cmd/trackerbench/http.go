package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// runHTTP runs o.conns clients that announce one after another, each on its
// own connection (with -keepalive) or on a new connection per announce.
func runHTTP(ctx context.Context, o *options, res *result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.fill {
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	var wg sync.WaitGroup
	errs := make([]error, o.conns)
	for w := range o.conns {
		wg.Go(func() { errs[w] = httpWorker(ctx, o, res, w) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

type httpClient struct {
	o    *options
	d    net.Dialer
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

func httpWorker(ctx context.Context, o *options, res *result, w int) error {
	c := &httpClient{o: o, d: net.Dialer{Timeout: 5 * time.Second}}
	if o.sources > 1 {
		c.d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+w%o.sources))}
	}
	defer func() {
		if c.conn != nil {
			c.conn.Close()
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(w), uint64(os.Getpid())))
	next := w
	for ctx.Err() == nil {
		idx := rng.IntN(o.totalPeers)
		event := ""
		if o.fill {
			if next >= o.totalPeers {
				return nil
			}
			idx, next = next, next+o.conns
			event = "&event=started"
		}
		left := "1048576"
		if idx%o.peers == 0 {
			left = "0"
		}
		r := append(c.req[:0], "GET /announce?info_hash="...)
		r = append(r, o.escaped[idx/o.peers]...)
		r = append(r, "&peer_id=-TB0001-"...)
		r = fmt.Appendf(r, "%012d", w)
		r = append(r, "&port="...)
		r = strconv.AppendInt(r, int64(1+idx%o.peers), 10)
		r = append(r, "&uploaded=0&downloaded=0&left="...)
		r = append(r, left...)
		r = append(r, event...)
		r = append(r, "&compact=1&numwant="...)
		r = strconv.AppendInt(r, int64(o.numWant), 10)
		r = append(r, " HTTP/1.1\r\nHost: "...)
		r = append(r, o.target...)
		if !o.keepAlive {
			r = append(r, "\r\nConnection: close"...)
		}
		r = append(r, "\r\n\r\n"...)
		c.req = r
		res.sent.Add(1)
		ok, err := c.do(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			if n := res.timeouts.Add(1); (n <= 3 || n%2000 == 0) && !o.quiet {
				fmt.Fprintln(os.Stderr, "http error:", err)
			}
			if c.conn != nil {
				c.conn.Close()
				c.conn = nil
			}
		case ok:
			res.replies.Add(1)
		default:
			res.failures.Add(1)
		}
	}
	return nil
}

// do sends c.req and reads the reply; it reports whether the reply was a
// peer list rather than a failure.
func (c *httpClient) do(ctx context.Context) (bool, error) {
	if c.conn == nil {
		conn, err := c.d.Dial("tcp", c.o.target)
		if err != nil {
			return false, err
		}
		c.conn = conn
		if tc, ok := conn.(*net.TCPConn); ok && !c.o.keepAlive {
			// Close with a reset once the reply is read, so that neither
			// side keeps the connection in TIME_WAIT and a long run does
			// not run out of port pairs.
			tc.SetLinger(0)
		}
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
		} else {
			c.br.Reset(conn)
		}
	}
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(c.req); err != nil {
		return false, err
	}
	length, closeAfter := -1, !c.o.keepAlive
	for first := true; ; first = false {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if !bytes.HasPrefix(line, []byte("HTTP/1.")) {
				return false, fmt.Errorf("bad status line %q", line)
			}
			continue
		}
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Connection")) && bytes.EqualFold(v, []byte("close")):
			closeAfter = true
		}
	}
	var err error
	if length >= 0 {
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		_, err = io.ReadFull(c.br, c.body)
	} else {
		c.body, err = io.ReadAll(c.br)
		closeAfter = true
	}
	if closeAfter {
		c.conn.Close()
		c.conn = nil
	}
	if err != nil {
		return false, err
	}
	return !bytes.Contains(c.body, []byte("failure reason")), nil
}
