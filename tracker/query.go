package tracker

import (
	"strconv"
	"strings"
	"unsafe"
)

// failure is a request the tracker refuses. Its message goes to the client
// as the bencoded "failure reason" or the UDP error text.
type failure struct {
	msg   string
	retry bool // send BEP 31 "retry in"; otherwise the request is simply wrong
}

func (f *failure) Error() string { return f.msg }

func fail(msg string) error { return &failure{msg: msg} }

var (
	errMissingInfohash = fail("missing info_hash")
	errInvalidInfohash = fail("invalid info_hash: must be 20 bytes")
	errInvalidPeerID   = fail("invalid peer_id: must be 20 bytes")
	errMissingPort     = fail("missing port")
	errInvalidPort     = fail("invalid port")
	errInvalidLeft     = fail("invalid left")
	errInvalidEvent    = fail("invalid event")
	errInvalidNumWant  = fail("invalid numwant")
	errInvalidCompact  = fail("invalid compact")
	errInvalidEscape   = fail("invalid percent-encoding")
	errTooManyHashes   = fail("too many info_hash values")
	errFullScrape      = fail("scrape needs at least one info_hash")
	errNotAllowed      = &failure{msg: "unregistered torrent", retry: true}
)

// announceRequest is a parsed HTTP announce.
type announceRequest struct {
	infohash [20]byte
	peerID   [20]byte
	port     uint16
	left     int64 // -1 when absent
	event    uint8
	numWant  int // -1 when absent
	compact  bool
	noPeerID bool   // no_peer_id=1: a non-compact reply may leave peer ids out
	ip       string // raw ip= value, still percent-encoded
}

// parseAnnounceQuery parses the raw query of an HTTP announce (BEP 3) into
// req without allocating. Unknown keys are ignored.
func parseAnnounceQuery(q string, req *announceRequest) error {
	*req = announceRequest{left: -1, numWant: -1, compact: true}
	var haveHash, havePort bool
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "info_hash":
			if haveHash {
				// Several hashes make sense only in a scrape.
				return errInvalidInfohash
			}
			if err := unescape20(&req.infohash, v); err != nil {
				return err
			}
			haveHash = true
		case "peer_id":
			if err := unescape20(&req.peerID, v); err != nil {
				if err == errInvalidInfohash {
					return errInvalidPeerID
				}
				return err
			}
		case "port":
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil || p == 0 {
				return errInvalidPort
			}
			req.port = uint16(p)
			havePort = true
		case "left":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return errInvalidLeft
			}
			req.left = n
		case "event":
			switch v {
			case "", "empty":
				req.event = eventNone
			case "started":
				req.event = eventStarted
			case "stopped":
				req.event = eventStopped
			case "completed":
				req.event = eventCompleted
			case "paused":
				req.event = eventPaused
			default:
				return errInvalidEvent
			}
		case "numwant", "num_want":
			n, err := strconv.Atoi(v)
			if err != nil {
				return errInvalidNumWant
			}
			if n >= 0 {
				req.numWant = n
			}
		case "compact":
			switch v {
			case "1":
				req.compact = true
			case "0":
				req.compact = false
			default:
				return errInvalidCompact
			}
		case "no_peer_id":
			req.noPeerID = v == "1"
		case "ip", "ipv4", "ipv6":
			req.ip = v
		}
	}
	if !haveHash {
		return errMissingInfohash
	}
	if !havePort {
		return errMissingPort
	}
	return nil
}

// parseScrapeQuery appends the info_hash values of an HTTP scrape (BEP 48)
// to dst.
func parseScrapeQuery(q string, dst [][20]byte, max int) ([][20]byte, error) {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "info_hash" {
			continue
		}
		if len(dst) >= max {
			return dst, errTooManyHashes
		}
		var ih [20]byte
		if err := unescape20(&ih, v); err != nil {
			return dst, err
		}
		dst = append(dst, ih)
	}
	if len(dst) == 0 {
		return dst, errFullScrape
	}
	return dst, nil
}

// unescape20 decodes a percent-encoded 20-byte value into dst.
func unescape20(dst *[20]byte, s string) error {
	n := 0
	for i := 0; i < len(s); i++ {
		if n == len(dst) {
			return errInvalidInfohash
		}
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return errInvalidEscape
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return errInvalidEscape
			}
			c = h<<4 | l
			i += 2
		case '+':
			c = ' '
		}
		dst[n] = c
		n++
	}
	if n != len(dst) {
		return errInvalidInfohash
	}
	return nil
}

// unescapeString decodes a short percent-encoded value; it allocates and is
// used only off the hot path.
func unescapeString(s string) (string, bool) {
	if !strings.ContainsAny(s, "%+") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			c = h<<4 | l
			i += 2
		case '+':
			c = ' '
		}
		b = append(b, c)
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unsafeString views b as a string without copying. The string must not be
// kept past b's next change: the parsers only read it.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
