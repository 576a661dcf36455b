package torrent

// lanseedd: super-seeding (BEP 16), change 5 in LANSEEDD.md.
//
// A seed that advertises every piece lets each peer ask it for whichever
// pieces that peer picks, and peers that start together pick many of the
// same ones: the seed's uplink, the one way new pieces enter the swarm,
// then carries pieces it has already sent. A super-seeding connection
// advertises no pieces (have-none, or no bitfield) and offers the peer a
// few at a time with have messages, each the piece fewest peers have or
// are being offered; when it has sent the peer an offered piece, it
// offers another. So the seed sends about one copy of each piece before
// it sends any twice, and the peers trade the rest among themselves.

import (
	"math/rand/v2"
	"time"

	"github.com/anacrolix/missinggo/v2/bitmap"

	pp "github.com/anacrolix/torrent/peer_protocol"
)

// How many bytes of pieces a peer is offered at once, always at least two
// pieces. A peer that has nothing is offered superSeedWindow, and one that
// has more is offered less, down to superSeedMinWindow for the last
// pieces: the seed's uplink then goes mostly to the peers that have least
// (measured with 10 aria2c clients: the server sent 1.2 copies of the file
// instead of 1.4, and the slowest client's time varied less). A peer that
// is the only one downloading is offered superSeedAlone, so that one
// client alone downloads as fast as from a seed that offers every piece.
const (
	superSeedWindow    = 256 << 10
	superSeedMinWindow = 64 << 10
	superSeedAlone     = 4 << 20
)

// A seed whose peers do not trade what it sends them (Transmission, for
// one, decides which peers it is interested in every ten seconds) would
// sit idle with small windows while they wait for each other. So while a
// torrent's last superSeedIdle of upload is less than half its best, the
// interested peers still downloading that have no request queued are
// offered more, once every superSeedIdle: a window beyond their own, then
// twice what they were offered beyond it. A swarm that trades keeps the
// seed's uplink full and its windows as they were; one that does not is
// offered pieces about as fast as the seed's uplink empties. Measured
// with 6 transmission-cli clients, 20 MiB over 20 Mbit/s links: the
// slowest took 74 s with fixed windows, 43 s with every piece offered at
// once, 44 s with this; 20 aria2c clients were as fast as before.
const (
	superSeedIdle  = time.Second
	superSeedCheck = 100 * time.Millisecond
)

// superSeedWant is how many pieces pc is to be offered at once.
func (pc *PeerConn) superSeedWant() int {
	t := pc.t
	pl := int(t.info.PieceLength)
	n := t.numPieces()
	if !t.superSeedOthers(pc) {
		return max(2, superSeedAlone/pl)
	}
	missing := n - int(pc.peerPieces().GetCardinality())
	return max(2, superSeedMinWindow/pl, superSeedWindow/pl*missing/n) + pc.superSeedExtra
}

// superSeedWatch runs while t has super-seeding connections to peers
// still downloading: every superSeedCheck it notes what the torrent has
// sent, and while the last superSeedIdle sent less than half the most any
// superSeedIdle has, it widens the windows of the interested peers that
// have no request queued, at most once every superSeedIdle. (A request
// queue is empty as soon as its chunks are written to the socket, long
// before the link has sent them: what was sent is the better measure of
// an idle uplink.)
func (t *Torrent) superSeedWatch() {
	tick := time.NewTicker(superSeedCheck)
	defer tick.Stop()
	var load superSeedLoad
	for {
		select {
		case <-t.closed.Done():
			return
		case <-tick.C:
		}
		t.cl.lock()
		if !t.superSeedIdleCheck(&load, time.Now()) {
			t.superSeedWatching = false
			t.cl.unlock()
			return
		}
		t.cl.unlock()
	}
}

// superSeedSamples is how many checks make up superSeedIdle.
const superSeedSamples = int(superSeedIdle / superSeedCheck)

// superSeedLoad is what superSeedWatch knows of a torrent's upload.
type superSeedLoad struct {
	sent   [superSeedSamples]int64 // bytes sent in all, at the last checks (a ring)
	checks int
	peak   int64 // the most sent in superSeedIdle so far
	widen  time.Time
}

// idle notes that the torrent has sent sent bytes in all and reports
// whether the last superSeedIdle sent less than half the peak.
func (l *superSeedLoad) idle(sent int64) bool {
	k := l.checks % superSeedSamples
	before := l.sent[k]
	l.sent[k] = sent
	l.checks++
	if l.checks <= superSeedSamples {
		return false
	}
	last := sent - before
	l.peak = max(l.peak, last)
	return last < l.peak/2
}

// superSeedIdleCheck is one look of superSeedWatch, with the client
// locked. It reports false when no super-seeding connection of t is left
// to a peer still downloading.
func (t *Torrent) superSeedIdleCheck(load *superSeedLoad, now time.Time) bool {
	downloading := false
	for c := range t.conns {
		if !c.superSeeding || c.closed.IsSet() {
			continue
		}
		if all, known := c.peerHasAllPieces(); !all || !known {
			downloading = true
			break
		}
	}
	if !downloading {
		return false
	}
	if !load.idle(t.connStats.BytesWrittenData.Int64()) || now.Sub(load.widen) < superSeedIdle {
		return true
	}
	load.widen = now
	window := max(2, superSeedWindow/int(t.info.PieceLength))
	for c := range t.conns {
		if !c.superSeeding || c.closed.IsSet() || !c.peerInterested || c.numPeerRequests() > 0 {
			continue
		}
		if all, known := c.peerHasAllPieces(); all && known {
			continue
		}
		c.superSeedExtra = max(window, 2*c.superSeedExtra)
		c.superSeedOffer()
		torrent.Add("super-seed windows widened while idle", 1)
	}
	return true
}

// superSeedOthers says whether another super-seeded connection of t is
// still downloading.
func (t *Torrent) superSeedOthers(pc *PeerConn) bool {
	for c := range t.conns {
		if c != pc && c.superSeeding && !c.closed.IsSet() {
			if all, known := c.peerHasAllPieces(); !all || !known {
				return true
			}
		}
	}
	return false
}

// superSeedStart decides, as the connection's first messages are sent,
// whether it super-seeds: the client is configured to and the torrent is
// complete. It then sends have-none (or nothing, without the fast
// extension) and the first offers, and reports true.
func (pc *PeerConn) superSeedStart() bool {
	t := pc.t
	if !t.cl.config.SuperSeed || !t.haveAllPieces() {
		return false
	}
	pc.superSeeding = true
	if pc.fastEnabled() {
		pc.write(pp.Message{Type: pp.HaveNone})
	}
	pc.sentHaves.Clear()
	pc.superSeedOffer()
	if !t.superSeedWatching {
		t.superSeedWatching = true
		go t.superSeedWatch()
	}
	return true
}

// superSeedOffer drops the offers the peer now has, and offers more
// pieces until the window's worth of offers are not yet sent to it.
func (pc *PeerConn) superSeedOffer() {
	t := pc.t
	if pc.superSeedOffered == nil {
		pc.superSeedOffered = make(map[pieceIndex]int)
	}
	unsent := 0
	for i, sent := range pc.superSeedOffered {
		if pc.peerHasPiece(i) {
			t.superSeedOffers[i]--
			delete(pc.superSeedOffered, i)
			continue
		}
		if sent < t.pieceLength(i).Int() {
			unsent++
		}
	}
	want := pc.superSeedWant()
	for ; unsent < want; unsent++ {
		i, ok := t.superSeedPick(pc)
		if !ok {
			return
		}
		pc.superSeedOffered[i] = 0
		t.superSeedOffers[i]++
		pc.have(i)
	}
}

// superSeedSentChunk counts a chunk sent to the peer, and offers the next
// piece when it completes an offered one. The window slides on what was
// sent, not on the peer's have: aria2 tells its peers of new pieces twenty
// at a time (or every ten seconds), so a window of fewer pieces than that
// sat sent and full until the peer had twenty pieces from anyone, and a
// peer that others fed little was fed little by the seed as well.
func (pc *PeerConn) superSeedSentChunk(r Request) {
	i := pieceIndex(r.Index)
	before, offered := pc.superSeedOffered[i]
	if !offered {
		return
	}
	pc.superSeedOffered[i] += r.Length.Int()
	if n := pc.t.pieceLength(i).Int(); before < n && pc.superSeedOffered[i] >= n {
		pc.superSeedOffer()
	}
}

// superSeedEnd forgets a closed connection's offers.
func (pc *PeerConn) superSeedEnd() {
	for i := range pc.superSeedOffered {
		pc.t.superSeedOffers[i]--
	}
	pc.superSeedOffered = nil
}

// superSeedPick returns the piece to offer pc next: one it has neither got
// nor been offered, held by the fewest peers counting the peers it is
// offered to, ties broken at random.
func (t *Torrent) superSeedPick(pc *PeerConn) (pieceIndex, bool) {
	n := t.numPieces()
	if len(t.superSeedOffers) != n {
		t.superSeedOffers = make([]int, n)
	}
	if all, known := pc.peerHasAllPieces(); all && known {
		return 0, false
	}
	has := pc.peerPieces()
	best, bestCount := -1, 0
	start := rand.IntN(n)
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if pc.sentHaves.Get(bitmap.BitIndex(i)) || has.ContainsInt(i) {
			continue
		}
		count := t.piece(i).availability() + t.superSeedOffers[i]
		if best < 0 || count < bestCount {
			best, bestCount = i, count
			if count == 0 {
				break
			}
		}
	}
	return best, best >= 0
}
