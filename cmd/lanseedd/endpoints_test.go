package main

import (
	"net"
	"slices"
	"testing"
)

func TestEndpoints(t *testing.T) {
	httpAddr := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	trackerAddr := &net.TCPAddr{IP: net.IPv4zero, Port: 6969}
	for _, c := range []struct {
		public, links string
		announce      []string
	}{
		{"http://fileserver.lan", "http://fileserver.lan:8080",
			[]string{"http://fileserver.lan:6969/announce", "udp://fileserver.lan:6969/announce"}},
		{"http://fileserver.lan/", "http://fileserver.lan:8080",
			[]string{"http://fileserver.lan:6969/announce", "udp://fileserver.lan:6969/announce"}},
		// A reverse proxy in front: its port or path is used as given.
		{"http://fileserver.lan:80", "http://fileserver.lan:80",
			[]string{"http://fileserver.lan:6969/announce", "udp://fileserver.lan:6969/announce"}},
		{"https://site.lan/torrents/", "https://site.lan/torrents",
			[]string{"http://site.lan:6969/announce", "udp://site.lan:6969/announce"}},
		{"http://[fd00::1]", "http://[fd00::1]:8080",
			[]string{"http://[fd00::1]:6969/announce", "udp://[fd00::1]:6969/announce"}},
	} {
		ep, err := endpointsFor(c.public, httpAddr, trackerAddr)
		if err != nil {
			t.Errorf("%s: %v", c.public, err)
			continue
		}
		if ep.links != c.links || !slices.Equal(ep.announce, c.announce) {
			t.Errorf("%s: links %s announce %v, want %s %v", c.public, ep.links, ep.announce, c.links, c.announce)
		}
	}
	for _, bad := range []string{"fileserver.lan", "ftp://x", "http://"} {
		if _, err := endpointsFor(bad, httpAddr, trackerAddr); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestContentWebSeeds(t *testing.T) {
	for _, c := range []struct {
		path string
		want string
	}{
		{"film.mkv", "http://nginx.lan/files/"},
		{"movies/Фильм 01.mkv", "http://nginx.lan/files/movies/"},
		{"Сериалы/Сезон 1", "http://nginx.lan/files/%D0%A1%D0%B5%D1%80%D0%B8%D0%B0%D0%BB%D1%8B/"},
		{"a/b/../c/x.bin", "http://nginx.lan/files/a/c/"},
	} {
		got := contentWebSeeds([]string{"http://nginx.lan/files/"}, c.path)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %v, want %s", c.path, got, c.want)
		}
	}
}
