package seeder

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"
	"github.com/lanseedd/lanseedd/torrentfile"
)

// rawPeer is a BitTorrent peer driven by hand with anacrolix's protocol
// package, to see the messages the seeder sends.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	dec  *pp.Decoder
}

func dialPeer(t *testing.T, port int, ih metainfo.Hash) *rawPeer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var id [20]byte
	copy(id[:], "-XX0000-")
	rand.Read(id[8:])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pp.Handshake(ctx, conn, &ih, id, pp.NewPeerExtensionBytes(pp.ExtensionBitFast)); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	pool := &sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	return &rawPeer{t: t, conn: conn, dec: &pp.Decoder{R: bufio.NewReader(conn), MaxLength: 1 << 20, Pool: pool}}
}

// offers reads what the seeder sends until it has been quiet for a
// quarter of a second: whether it said have-all or have-none, and the
// pieces it announced with have messages, in order.
func (p *rawPeer) offers() (haveAll, haveNone bool, haves []int) {
	p.t.Helper()
	return p.offersUntil(time.Time{})
}

// offersUntil is offers, reading until the time end if it is not zero
// (quiet or not).
func (p *rawPeer) offersUntil(end time.Time) (haveAll, haveNone bool, haves []int) {
	p.t.Helper()
	for {
		deadline := end
		if end.IsZero() {
			deadline = time.Now().Add(250 * time.Millisecond)
		}
		p.conn.SetReadDeadline(deadline)
		var m pp.Message
		err := p.dec.Decode(&m)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			p.t.Fatalf("reading from the seeder: %v", err)
		}
		switch {
		case m.Keepalive:
		case m.Type == pp.HaveAll:
			haveAll = true
		case m.Type == pp.HaveNone:
			haveNone = true
		case m.Type == pp.Have:
			haves = append(haves, int(m.Index))
		case m.Type == pp.Bitfield:
			p.t.Fatalf("the seeder sent a bitfield of %d pieces", len(m.Bitfield))
		}
	}
}

// waitFor reads messages until one of type typ, for at most 5 s.
func (p *rawPeer) waitFor(typ pp.MessageType) {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m pp.Message
		if err := p.dec.Decode(&m); err != nil {
			p.t.Fatalf("waiting for %v: %v", typ, err)
		}
		if !m.Keepalive && m.Type == typ {
			return
		}
	}
}

func (p *rawPeer) have(pieces ...int) {
	p.t.Helper()
	for _, i := range pieces {
		p.send(pp.Message{Type: pp.Have, Index: pp.Integer(i)})
	}
}

func (p *rawPeer) send(m pp.Message) {
	p.t.Helper()
	b, _ := m.MarshalBinary()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// seedForTest seeds a file of n pieces of 16 KiB and returns the client's
// peer port and the infohash.
func seedForTest(t *testing.T, superSeed bool, n int) (int, metainfo.Hash) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "a.bin")
	data := make([]byte, n*torrentfile.MinPieceLength)
	rand.Read(data)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := torrentfile.Create(context.Background(), file, torrentfile.CreateOptions{PieceLength: torrentfile.MinPieceLength})
	if err != nil {
		t.Fatal(err)
	}
	l, err := torrentfile.Scan(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.StateDir, cfg.PeerPort, cfg.PeerBind, cfg.UTP, cfg.SuperSeed = t.TempDir(), 0, "127.0.0.1", false, superSeed
	c, err := newClient(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	ih, err := c.seed(mi, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.cl.LocalPort(), ih
}

// TestSuperSeedOffers follows BEP 16 as the seeder plays it: a peer that
// downloads alone is offered a large window of pieces; a second peer is
// offered pieces the first was not; when that peer says it has some of
// its offers it is offered new pieces, again ones no peer was offered.
// The windows are the library's (third_party/anacrolix-torrent/superseed.go):
// 4 MiB alone, 256 KiB to a peer that has nothing among others.
func TestSuperSeedOffers(t *testing.T) {
	const pieces = 320 // 5 MiB in 16 KiB pieces
	port, ih := seedForTest(t, true, pieces)

	a := dialPeer(t, port, ih)
	all, none, aOffers := a.offers()
	if all || !none {
		t.Fatalf("first peer: have-all %v, have-none %v; want have-none only", all, none)
	}
	if want := 256; len(aOffers) != want {
		t.Fatalf("the peer downloading alone was offered %d pieces, want %d", len(aOffers), want)
	}
	offered := map[int]string{}
	for _, i := range aOffers {
		offered[i] = "the first peer"
	}

	b := dialPeer(t, port, ih)
	_, none, bOffers := b.offers()
	if !none {
		t.Fatal("second peer: no have-none")
	}
	if want := 16; len(bOffers) != want {
		t.Fatalf("the second peer was offered %d pieces, want %d", len(bOffers), want)
	}
	for _, i := range bOffers {
		if who, ok := offered[i]; ok {
			t.Errorf("piece %d offered to the second peer was offered to %s", i, who)
		}
		offered[i] = "the second peer"
	}

	// The second peer has ten of its offers: its window shrinks a little
	// with what it has (15 of 16 pieces at 310 of 320 missing), and it is
	// offered new pieces up to it.
	b.have(bOffers[:10]...)
	_, _, more := b.offers()
	if want := 15 - 6; len(more) != want {
		t.Fatalf("after the second peer has 10 of its pieces, %d more offered, want %d", len(more), want)
	}
	for _, i := range more {
		if who, ok := offered[i]; ok {
			t.Errorf("piece %d offered again to the second peer was offered to %s", i, who)
		}
		offered[i] = "the second peer"
	}
}

// twoPeersPieces is how many pieces twoPeers seeds: 5 MiB in 16 KiB
// pieces.
const twoPeersPieces = 320

// twoPeers seeds twoPeersPieces pieces and connects two peers: a, offered
// the 256 pieces (4 MiB) of a peer downloading alone, then b, offered 16
// (256 KiB, to a peer that has nothing among others).
func twoPeers(t *testing.T) (a, b *rawPeer, aOffers, bOffers []int) {
	t.Helper()
	port, ih := seedForTest(t, true, twoPeersPieces)
	a = dialPeer(t, port, ih)
	_, _, aOffers = a.offers()
	b = dialPeer(t, port, ih)
	_, _, bOffers = b.offers()
	if len(aOffers) != 256 || len(bOffers) != 16 {
		t.Fatalf("offered %d and %d pieces, want 256 and 16", len(aOffers), len(bOffers))
	}
	return a, b, aOffers, bOffers
}

// request says the peer is interested and, once unchoked, asks for the
// pieces (16 KiB each, one request each).
func (p *rawPeer) request(pieces []int) {
	p.t.Helper()
	p.send(pp.Message{Type: pp.Interested})
	p.waitFor(pp.Unchoke)
	for _, i := range pieces {
		p.send(pp.Message{Type: pp.Request, Index: pp.Integer(i), Begin: 0, Length: torrentfile.MinPieceLength})
	}
}

// TestSuperSeedSlidesOnSent: an offered piece the seeder has sent whole
// makes room for the next offer at once, though the peer has not said it
// has it. aria2 tells its peers of new pieces twenty at a time, or every
// ten seconds: a window of sixteen pieces that slid only on the peer's
// haves waited for pieces from other peers before the seeder sent more.
func TestSuperSeedSlidesOnSent(t *testing.T) {
	const pieces = twoPeersPieces
	_, b, aOffers, bOffers := twoPeers(t)
	offered := map[int]bool{}
	for _, i := range append(aOffers, bOffers...) {
		offered[i] = true
	}

	b.request(bOffers)
	// Every piece but the last is followed by the next offer before the
	// last piece arrives; b never says it has any.
	var more []int
	b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got := 0; got < len(bOffers); {
		var m pp.Message
		if err := b.dec.Decode(&m); err != nil {
			t.Fatalf("after %d of its %d pieces and %d new offers: %v", got, len(bOffers), len(more), err)
		}
		switch {
		case m.Keepalive:
		case m.Type == pp.Piece:
			got++
		case m.Type == pp.Have:
			more = append(more, int(m.Index))
		}
	}
	if want := len(bOffers) - 1; len(more) < want {
		t.Fatalf("%d pieces offered while b's %d offers were sent, want at least %d", len(more), len(bOffers), want)
	}
	for _, i := range more {
		if offered[i] {
			t.Errorf("piece %d offered to b was offered before, while %d were offered to no peer", i, pieces-256-16)
		}
		offered[i] = true
	}
}

// TestSuperSeedWidensWhileIdle: once the seeder's upload has fallen to
// less than half its best second, a peer that is interested but asks for
// nothing more is offered more pieces, more at each look, each a piece it
// was not offered and first the pieces no peer was offered; a peer that
// is not interested is offered nothing more. (Transmission decides which
// peers it is interested in every ten seconds: with fixed windows the
// seeder sat idle while its peers waited on each other.)
func TestSuperSeedWidensWhileIdle(t *testing.T) {
	const pieces = twoPeersPieces
	a, b, aOffers, bOffers := twoPeers(t)
	toA, toB := map[int]bool{}, map[int]bool{}
	for _, i := range aOffers {
		toA[i] = true
	}
	for _, i := range bOffers {
		toB[i] = true
	}

	// b downloads its window, and then asks for nothing more.
	b.request(bOffers)
	// As its window is sent, b is offered a window more (16 pieces, which
	// it does not ask for). A second after, the seeder's last second is
	// below half its best: it looks once a second, and each look doubles
	// what b is offered beyond its window (16 pieces, then 32).
	_, _, more := b.offersUntil(time.Now().Add(3500 * time.Millisecond))
	if len(more) < 2*16 {
		t.Fatalf("the interested peer was offered %d more pieces in 3.5 s, want at least %d", len(more), 2*16)
	}
	for k, i := range more {
		if toB[i] {
			t.Errorf("piece %d offered to b again", i)
		}
		if toA[i] && k < pieces-256-16 {
			t.Errorf("offer %d: piece %d was offered to a, while some were offered to no peer", k, i)
		}
		toB[i] = true
	}
	if _, _, aMore := a.offers(); len(aMore) != 0 {
		t.Errorf("the peer that is not interested was offered %d more pieces", len(aMore))
	}
}

// TestSuperSeedOff: with seeder.super_seed off a peer is told the seeder
// has every piece at once.
func TestSuperSeedOff(t *testing.T) {
	port, ih := seedForTest(t, false, 8)
	all, none, haves := dialPeer(t, port, ih).offers()
	if !all || none || len(haves) != 0 {
		t.Fatalf("have-all %v, have-none %v, %d haves; want have-all only", all, none, len(haves))
	}
}
