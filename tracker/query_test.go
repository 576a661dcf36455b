package tracker

import (
	"strings"
	"testing"
)

// A 20-byte value and its percent-encoding, as clients send info_hash.
const (
	rawHash     = "\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12\x34\x56\x78\x9a"
	escapedHash = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A"
	peerID      = "-LS0001-abcdefghijkl"
)

func TestParseAnnounceQuery(t *testing.T) {
	base := "info_hash=" + escapedHash + "&peer_id=" + peerID + "&port=6881"
	tests := []struct {
		name  string
		query string
		want  announceRequest
		err   error
	}{
		{"minimal", base, announceRequest{port: 6881, left: -1, numWant: -1, compact: true}, nil},
		{"full", base + "&uploaded=1&downloaded=2&left=0&event=completed&numwant=7&compact=0&key=x&no_peer_id=1",
			announceRequest{port: 6881, left: 0, event: eventCompleted, numWant: 7, compact: false, noPeerID: true}, nil},
		{"started", base + "&event=started", announceRequest{port: 6881, left: -1, numWant: -1, compact: true, event: eventStarted}, nil},
		{"stopped", base + "&event=stopped", announceRequest{port: 6881, left: -1, numWant: -1, compact: true, event: eventStopped}, nil},
		{"empty event", base + "&event=", announceRequest{port: 6881, left: -1, numWant: -1, compact: true}, nil},
		{"negative numwant is default", base + "&numwant=-1", announceRequest{port: 6881, left: -1, numWant: -1, compact: true}, nil},
		{"ip kept raw", base + "&ip=10.0.0.1", announceRequest{port: 6881, left: -1, numWant: -1, compact: true, ip: "10.0.0.1"}, nil},
		{"unknown keys ignored", "a=b&" + base + "&&=&zzz", announceRequest{port: 6881, left: -1, numWant: -1, compact: true}, nil},
		{"missing hash", "peer_id=" + peerID + "&port=1", announceRequest{}, errMissingInfohash},
		{"short hash", "info_hash=abc&port=1", announceRequest{}, errInvalidInfohash},
		{"long hash", "info_hash=" + escapedHash + "x&port=1", announceRequest{}, errInvalidInfohash},
		{"two hashes", base + "&info_hash=" + escapedHash, announceRequest{}, errInvalidInfohash},
		{"bad escape", "info_hash=%zz" + escapedHash[3:] + "&port=1", announceRequest{}, errInvalidEscape},
		{"truncated escape", "info_hash=" + escapedHash[:len(escapedHash)-2] + "&port=1", announceRequest{}, errInvalidEscape},
		{"short peer id", base + "&peer_id=abc", announceRequest{}, errInvalidPeerID},
		{"missing port", "info_hash=" + escapedHash, announceRequest{}, errMissingPort},
		{"port zero", base + "&port=0", announceRequest{}, errInvalidPort},
		{"port too big", base + "&port=65536", announceRequest{}, errInvalidPort},
		{"negative left", base + "&left=-5", announceRequest{}, errInvalidLeft},
		{"bad event", base + "&event=bogus", announceRequest{}, errInvalidEvent},
		{"bad numwant", base + "&numwant=x", announceRequest{}, errInvalidNumWant},
		{"bad compact", base + "&compact=2", announceRequest{}, errInvalidCompact},
		{"empty", "", announceRequest{}, errMissingInfohash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got announceRequest
			err := parseAnnounceQuery(tt.query, &got)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			tt.want.infohash = [20]byte([]byte(rawHash))
			tt.want.peerID = [20]byte([]byte(peerID))
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseScrapeQuery(t *testing.T) {
	h := [20]byte([]byte(rawHash))
	tests := []struct {
		name  string
		query string
		n     int
		err   error
	}{
		{"one", "info_hash=" + escapedHash, 1, nil},
		{"three", "info_hash=" + escapedHash + "&x=1&info_hash=" + escapedHash + "&info_hash=" + escapedHash, 3, nil},
		{"none", "x=1", 0, errFullScrape},
		{"bad", "info_hash=abc", 0, errInvalidInfohash},
		{"too many", strings.Repeat("info_hash="+escapedHash+"&", 5), 4, errTooManyHashes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseScrapeQuery(tt.query, nil, 4)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && len(got) != tt.n {
				t.Fatalf("got %d hashes, want %d", len(got), tt.n)
			}
			for _, g := range got {
				if g != h {
					t.Fatalf("hash %x, want %x", g, h)
				}
			}
		})
	}
}

func TestParseAnnounceQueryAllocs(t *testing.T) {
	q := "info_hash=" + escapedHash + "&peer_id=" + peerID + "&port=6881&uploaded=0&downloaded=0&left=0&event=started&numwant=50&compact=1"
	var req announceRequest
	if n := testing.AllocsPerRun(100, func() { parseAnnounceQuery(q, &req) }); n != 0 {
		t.Fatalf("parseAnnounceQuery allocates %v times", n)
	}
}

// FuzzParseAnnounceQuery checks that no query panics the parser and that a
// query it accepts has a usable port.
func FuzzParseAnnounceQuery(f *testing.F) {
	f.Add("info_hash=" + escapedHash + "&peer_id=" + peerID + "&port=6881&left=0&event=started&numwant=50&compact=1")
	f.Add("info_hash=%zz&port=1")
	f.Add("info_hash=" + escapedHash + "&port=65536&ip=%3A%3A1")
	f.Fuzz(func(t *testing.T, q string) {
		var req announceRequest
		if err := parseAnnounceQuery(q, &req); err == nil {
			if req.port == 0 {
				t.Fatalf("accepted port 0 in %q", q)
			}
			if req.left < -1 || req.numWant < -1 {
				t.Fatalf("bad numbers %+v from %q", req, q)
			}
		}
		parseScrapeQuery(q, nil, 10)
		unescapeString(q)
	})
}
