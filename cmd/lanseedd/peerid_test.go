package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/internal/snapshot"
	"github.com/lanseedd/lanseedd/internal/testenv"
)

// TestNonCompactListsSeederPeerID: a non-compact announce reply (BEP 3)
// lists our seeder with the peer id its own handshake sends.
func TestNonCompactListsSeederPeerID(t *testing.T) {
	content := t.TempDir()
	testenv.RandomFile(t, filepath.Join(content, "a.bin"), 64<<10)
	snapshot.Guard(t, content)
	d := startDaemon(t, content)
	row := d.waitState(t, d.exec(t, "INSERT INTO files(path) VALUES ('a.bin')"), lanseedd.StateReady)
	ih := hexHash(t, row.InfoHash)

	q := url.Values{"info_hash": {string(ih[:])}, "peer_id": {"-TT0001-000000000000"}, "port": {"51000"},
		"uploaded": {"0"}, "downloaded": {"0"}, "left": {"100"}, "compact": {"0"}}
	resp, err := http.Get(d.AnnounceURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reply struct {
		Peers []struct {
			IP     string `bencode:"ip"`
			PeerID string `bencode:"peer id"`
			Port   int    `bencode:"port"`
		} `bencode:"peers"`
	}
	if err := bencode.Unmarshal(body, &reply); err != nil {
		t.Fatalf("announce reply %q: %v", body, err)
	}
	var listed string
	for _, p := range reply.Peers {
		if p.Port == d.Seeder.Port() {
			listed = p.PeerID
		}
	}
	if len(listed) != 20 {
		t.Fatalf("the seeder is not listed with a peer id: %+v", reply.Peers)
	}

	// The seeder's handshake: protocol, reserved bytes, infohash, peer id.
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Seeder.Port())), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	hs = append(append(hs, ih[:]...), "-TT0001-000000000000"...)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 68)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("seeder handshake: %v", err)
	}
	if !bytes.Equal(got[28:48], ih[:]) {
		t.Fatalf("seeder handshake for %x, want %x", got[28:48], ih)
	}
	if string(got[48:]) != listed {
		t.Errorf("tracker lists the seeder as %q; its handshake says %q", listed, got[48:])
	}
}
