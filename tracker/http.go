package tracker

import (
	"bytes"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// httpBuf holds the buffers of one HTTP request; they are pooled so that a
// reply is built without garbage.
type httpBuf struct {
	out    []byte
	p4, p6 []byte
	hashes [][20]byte
}

var httpBufs = sync.Pool{New: func() any { return &httpBuf{out: make([]byte, 0, 2048)} }}

var (
	textPlain = []string{"text/plain"}
	noCache   = []string{"no-cache"}
)

// ServeHTTP serves /announce (BEP 3, 7, 23, 24) and /scrape (BEP 48). Other
// paths get 404. Refused requests get status 200 and a bencoded failure
// reason, as clients expect of trackers.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/announce":
		t.serveAnnounce(w, r)
	case "/scrape":
		t.serveScrape(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (t *Tracker) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	b := httpBufs.Get().(*httpBuf)
	defer httpBufs.Put(b)
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = ap.Addr()
	}
	var xff []string
	if len(t.cfg.TrustedProxies) > 0 {
		xff = r.Header.Values("X-Forwarded-For")
	}
	writeReply(w, t.announceBody(b, r.URL.RawQuery, remote, xff))
}

// announceBody answers the announce in rawQuery from remote (the
// connection's source) with a bencoded body built in b.
func (t *Tracker) announceBody(b *httpBuf, rawQuery string, remote netip.Addr, xff []string) []byte {
	var req announceRequest
	if err := parseAnnounceQuery(rawQuery, &req); err != nil {
		return t.failureBody(b, err)
	}
	ip, ok := t.clientIP(remote, xff)
	if !ok {
		return t.failureBody(b, fail("unusable source address"))
	}
	if t.cfg.AllowIPParam && req.ip != "" {
		if s, ok := unescapeString(req.ip); ok {
			if a, err := netip.ParseAddr(s); err == nil {
				ip = a.Unmap()
			}
		}
	}
	op := announceOp{
		infohash: req.infohash,
		addr:     netip.AddrPortFrom(ip, req.port),
		peerID:   req.peerID,
		withIDs:  !req.compact && !req.noPeerID,
		event:    req.event,
		seeder:   req.left == 0,
		numWant:  req.numWant,
	}
	res, p4, p6, err := t.announce(&op, true, true, b.p4[:0], b.p6[:0])
	b.p4, b.p6 = p4, p6
	if err != nil {
		return t.failureBody(b, err)
	}
	t.counters.httpAnnounces.Add(1)

	o := append(b.out[:0], "d8:completei"...)
	o = strconv.AppendInt(o, int64(res.seeders), 10)
	o = append(o, "e10:downloadedi"...)
	o = strconv.AppendInt(o, int64(res.completed), 10)
	o = append(o, "e11:external ip"...)
	if ip.Is4() {
		a := ip.As4()
		o = append(o, "4:"...)
		o = append(o, a[:]...)
	} else {
		a := ip.As16()
		o = append(o, "16:"...)
		o = append(o, a[:]...)
	}
	o = append(o, "10:incompletei"...)
	o = strconv.AppendInt(o, int64(res.leechers), 10)
	o = append(o, "e8:intervali"...)
	o = strconv.AppendInt(o, int64(t.interval), 10)
	o = append(o, "e12:min intervali"...)
	o = strconv.AppendInt(o, int64(t.minInterval), 10)
	o = append(o, "e5:peers"...)
	if req.compact {
		o = appendBytes(o, p4)
		if len(p6) > 0 || ip.Is6() {
			o = append(o, "6:peers6"...)
			o = appendBytes(o, p6)
		}
	} else {
		// BEP 3: a list of dictionaries with "peer id", unless the
		// client said no_peer_id=1.
		idLen := 0
		if op.withIDs {
			idLen = 20
		}
		o = append(o, 'l')
		for i := 0; i+6+idLen <= len(p4); i += 6 + idLen {
			a := netip.AddrFrom4([4]byte(p4[i : i+4]))
			o = appendPeerDict(o, a, uint16(p4[i+4])<<8|uint16(p4[i+5]), p4[i+6:i+6+idLen])
		}
		for i := 0; i+18+idLen <= len(p6); i += 18 + idLen {
			a := netip.AddrFrom16([16]byte(p6[i : i+16]))
			o = appendPeerDict(o, a, uint16(p6[i+16])<<8|uint16(p6[i+17]), p6[i+18:i+18+idLen])
		}
		o = append(o, 'e')
	}
	o = append(o, 'e')
	b.out = o
	return o
}

func appendBytes(o, s []byte) []byte {
	o = strconv.AppendInt(o, int64(len(s)), 10)
	o = append(o, ':')
	return append(o, s...)
}

// appendPeerDict appends a peer of a non-compact reply; id is empty when
// peer ids are left out.
func appendPeerDict(o []byte, a netip.Addr, port uint16, id []byte) []byte {
	var tmp [64]byte
	o = append(o, "d2:ip"...)
	o = appendBytes(o, a.AppendTo(tmp[:0]))
	if len(id) > 0 {
		o = append(o, "7:peer id"...)
		o = appendBytes(o, id)
	}
	o = append(o, "4:porti"...)
	o = strconv.AppendInt(o, int64(port), 10)
	return append(o, "ee"...)
}

func (t *Tracker) serveScrape(w http.ResponseWriter, r *http.Request) {
	b := httpBufs.Get().(*httpBuf)
	defer httpBufs.Put(b)
	writeReply(w, t.scrapeBody(b, r.URL.RawQuery))
}

// scrapeBody answers the scrape in rawQuery with a bencoded body built in b.
func (t *Tracker) scrapeBody(b *httpBuf, rawQuery string) []byte {
	hashes, err := parseScrapeQuery(rawQuery, b.hashes[:0], t.cfg.MaxScrapeHashes)
	b.hashes = hashes
	if err != nil {
		return t.failureBody(b, err)
	}
	t.counters.httpScrapes.Add(1)
	// Dictionary keys must be sorted and unique.
	slices.SortFunc(hashes, func(a, b [20]byte) int { return bytes.Compare(a[:], b[:]) })
	hashes = slices.Compact(hashes)
	o := append(b.out[:0], "d5:filesd"...)
	for i := range hashes {
		s, l, c, _ := t.scrape(&hashes[i])
		o = append(o, "20:"...)
		o = append(o, hashes[i][:]...)
		o = append(o, "d8:completei"...)
		o = strconv.AppendInt(o, int64(s), 10)
		o = append(o, "e10:downloadedi"...)
		o = strconv.AppendInt(o, int64(c), 10)
		o = append(o, "e10:incompletei"...)
		o = strconv.AppendInt(o, int64(l), 10)
		o = append(o, "ee"...)
	}
	o = append(o, "ee"...)
	b.out = o
	return o
}

// failureBody is a bencoded failure reason (and BEP 31 "retry in" when
// waiting may help).
func (t *Tracker) failureBody(b *httpBuf, err error) []byte {
	t.counters.httpErrors.Add(1)
	msg := err.Error()
	retry := false
	if f, ok := err.(*failure); ok {
		retry = f.retry
		if f == errSwarmLimit {
			t.counters.refused.Add(1)
		}
	}
	o := append(b.out[:0], "d14:failure reason"...)
	o = strconv.AppendInt(o, int64(len(msg)), 10)
	o = append(o, ':')
	o = append(o, msg...)
	if retry && t.retryMinutes > 0 {
		o = append(o, "8:retry ini"...)
		o = strconv.AppendInt(o, int64(t.retryMinutes), 10)
		o = append(o, 'e')
	}
	o = append(o, 'e')
	b.out = o
	return o
}

func writeReply(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noCache
	w.Write(body)
}

// clientIP returns the address announces are recorded under: the
// connection's source, or, from a trusted proxy, the last untrusted address
// of X-Forwarded-For.
func (t *Tracker) clientIP(remote netip.Addr, xff []string) (netip.Addr, bool) {
	if !remote.IsValid() {
		return remote, false
	}
	ip := remote.Unmap()
	if len(t.cfg.TrustedProxies) == 0 || !t.trusted(ip) {
		return ip, true
	}
	for i := len(xff) - 1; i >= 0; i-- {
		parts := xff[i]
		for parts != "" {
			var p string
			if j := strings.LastIndexByte(parts, ','); j >= 0 {
				parts, p = parts[:j], parts[j+1:]
			} else {
				parts, p = "", parts
			}
			a, err := netip.ParseAddr(strings.TrimSpace(p))
			if err != nil {
				// A garbled hop: stop at the last address that was sure.
				return ip, true
			}
			ip = a.Unmap()
			if !t.trusted(ip) {
				return ip, true
			}
		}
	}
	return ip, true
}

func (t *Tracker) trusted(ip netip.Addr) bool {
	for _, p := range t.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
