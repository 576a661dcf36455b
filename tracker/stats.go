package tracker

import "sync/atomic"

// Stats are tracker-wide totals for the status page and metrics.
type Stats struct {
	Swarms   int64 // swarms held
	Peers    int64 // peers held, both address families
	Seeders  int64
	Leechers int64

	HTTPAnnounces int64 // HTTP announces answered with peers
	HTTPScrapes   int64
	HTTPErrors    int64 // HTTP requests answered with a failure reason
	UDPConnects   int64
	UDPAnnounces  int64
	UDPScrapes    int64
	UDPErrors     int64 // UDP error packets sent and packets dropped
	Refused       int64 // announces refused because a limit was hit
	// Completed counts completed events (HTTP and UDP) from peers that
	// were not yet seeding: downloads finished, as scrapes count them.
	Completed int64
}

// SwarmStats are the counts of one swarm, as a scrape reports them.
type SwarmStats struct {
	Seeders   int
	Leechers  int
	Completed int // "downloaded": completed events seen
}

// counter is an atomic counter on a cache line of its own, so that readers
// on different cores do not slow each other down.
type counter struct {
	atomic.Int64
	_ [56]byte
}

type counters struct {
	httpAnnounces, httpScrapes, httpErrors         counter
	udpConnects, udpAnnounces, udpScrapes, udpErrs counter
	refused                                        counter
}

// Stats returns the current totals.
func (t *Tracker) Stats() Stats {
	c := &t.counters
	s := Stats{
		Swarms:        t.store.nSwarms.Load(),
		Peers:         t.store.nPeers.Load(),
		Seeders:       t.store.nSeeders.Load(),
		HTTPAnnounces: c.httpAnnounces.Load(),
		HTTPScrapes:   c.httpScrapes.Load(),
		HTTPErrors:    c.httpErrors.Load(),
		UDPConnects:   c.udpConnects.Load(),
		UDPAnnounces:  c.udpAnnounces.Load(),
		UDPScrapes:    c.udpScrapes.Load(),
		UDPErrors:     c.udpErrs.Load(),
		Refused:       c.refused.Load(),
		Completed:     t.store.nCompleted.Load(),
	}
	s.Leechers = s.Peers - s.Seeders
	return s
}

// Swarm returns the counts of the swarm of infohash, if the tracker holds it.
func (t *Tracker) Swarm(infohash [20]byte) (SwarmStats, bool) {
	s, l, c, ok := t.scrape(&infohash)
	return SwarmStats{Seeders: s, Leechers: l, Completed: c}, ok
}
