package tracker

import "testing"

// TestCompletedCounter: Stats.Completed counts completed events over HTTP
// and UDP, once per download: a seeder repeating the event adds nothing.
func TestCompletedCounter(t *testing.T) {
	tr := newTestTracker(t, nil)
	a, b := hashN(1), hashN(2)

	get(t, tr, "10.0.0.1:1", announceQ(a, 1, "&left=5&event=started"))
	get(t, tr, "10.0.0.1:1", announceQ(a, 1, "&left=0&event=completed"))
	get(t, tr, "10.0.0.1:1", announceQ(a, 1, "&left=0&event=completed")) // already a seeder
	get(t, tr, "10.0.0.2:1", announceQ(a, 1, "&left=5"))                 // no event
	if s := tr.Stats(); s.Completed != 1 {
		t.Fatalf("after HTTP: completed %d, want 1", s.Completed)
	}

	const src = "10.0.0.3:6881"
	id := udpConnID(t, tr, src)
	parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 7, udpAnn{ih: b, port: 1, numWant: -1}), src), 7, 6)
	parseUDPAnnounceReply(t, udpDo(tr, udpAnnouncePacket(id, 8, udpAnn{ih: b, seed: true, event: 1, port: 1, numWant: -1}), src), 8, 6)
	if s := tr.Stats(); s.Completed != 2 {
		t.Fatalf("after UDP: completed %d, want 2", s.Completed)
	}

	// Peers leaving do not take their downloads back.
	get(t, tr, "10.0.0.1:1", announceQ(a, 1, "&left=0&event=stopped"))
	get(t, tr, "10.0.0.2:1", announceQ(a, 1, "&left=5&event=stopped"))
	if s := tr.Stats(); s.Completed != 2 || s.Peers != 1 {
		t.Fatalf("after stops: %+v, want 2 completed and 1 peer", s)
	}
}
