package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// Peer wire message ids (BEP 3, BEP 6).
const (
	msgUnchoke    = 1
	msgInterested = 2
	msgRequest    = 6
	msgPiece      = 7
)

// wirePeer is a bare peer wire connection to the seeder, with the fast
// extension (BEP 6) on, as webtorrent connects.
type wirePeer struct {
	t *testing.T
	c net.Conn
}

func dialSeeder(t *testing.T, d *testDaemon, ih [20]byte) *wirePeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Seeder.Port())), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	reserved := make([]byte, 8)
	reserved[7] |= 0x04 // fast extension
	hs := append(append([]byte("\x13BitTorrent protocol"), reserved...), ih[:]...)
	hs = append(hs, "-TT0001-000000000000"...)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 68)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("seeder handshake: %v", err)
	}
	return &wirePeer{t: t, c: c}
}

// read returns the next message's id and payload; keep-alives are skipped.
// ok is false when nothing came within wait.
func (p *wirePeer) read(wait time.Duration) (id byte, payload []byte, ok bool) {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(wait))
	for {
		var n uint32
		if err := binary.Read(p.c, binary.BigEndian, &n); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, nil, false
			}
			p.t.Fatalf("the seeder closed the connection: %v", err)
		}
		if n == 0 {
			continue
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(p.c, b); err != nil {
			p.t.Fatalf("the seeder closed the connection: %v", err)
		}
		return b[0], b[1:], true
	}
}

func (p *wirePeer) send(id byte, ints ...uint32) {
	p.t.Helper()
	p.write(message(id, ints...))
}

// message encodes one peer-wire message.
func message(id byte, ints ...uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+4*len(ints)))
	b = append(b, id)
	for _, v := range ints {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func (p *wirePeer) write(b []byte) {
	p.t.Helper()
	p.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// TestSeederWireManners checks two details of how the seeder talks to a
// peer that webtorrent trips on: it unchokes a peer only once the peer is
// interested (an unchoke that comes with the handshake is lost on
// webtorrent, which then waits a minute before its first request), and it
// answers a duplicate request once instead of dropping the connection.
func TestSeederWireManners(t *testing.T) {
	content := t.TempDir()
	data := testenv.RandomFile(t, filepath.Join(content, "a.bin"), 256<<10)
	snapshot.Guard(t, content)
	d := startDaemon(t, content)
	row := d.waitState(t, d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')"), lanseedd.StateReady)
	ih := hexHash(t, row.InfoHash)
	// An announce loads the torrent, as a peer's first step does.
	if f := d.announce(t, row.InfoHash); f != "" {
		t.Fatal(f)
	}
	p := dialSeeder(t, d, ih)

	for {
		id, _, ok := p.read(time.Second)
		if !ok {
			break
		}
		if id == msgUnchoke {
			t.Fatal("the seeder unchoked a peer that had not said it is interested")
		}
	}
	p.send(msgInterested)
	for deadline := time.Now().Add(5 * time.Second); ; {
		id, _, ok := p.read(time.Until(deadline))
		if !ok {
			t.Fatal("no unchoke after interested")
		}
		if id == msgUnchoke {
			break
		}
	}

	// The same request twice, then another: one answer each, and the
	// connection stays.
	info, err := d.fetchTorrent(t, row.FileID).UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	const block = 16 << 10
	// In one write, so that the duplicate arrives while the first is
	// queued: one that came after the answer would be a new request.
	p.write(slices.Concat(message(msgRequest, 0, 0, block), message(msgRequest, 0, 0, block), message(msgRequest, 1, 0, block)))
	got := map[uint32]int{}
	for len(got) < 2 {
		id, payload, ok := p.read(5 * time.Second)
		if !ok {
			t.Fatalf("answers so far (by piece) %v; want pieces 0 and 1", got)
		}
		if id != msgPiece {
			continue
		}
		index := binary.BigEndian.Uint32(payload)
		at := int64(index) * info.PieceLength
		if !bytes.Equal(payload[8:], data[at:at+block]) {
			t.Fatalf("block of piece %d differs", index)
		}
		got[index]++
	}
	if id, payload, ok := p.read(time.Second); ok && id == msgPiece {
		t.Errorf("a second answer to one request: piece %d", binary.BigEndian.Uint32(payload))
	}
}
