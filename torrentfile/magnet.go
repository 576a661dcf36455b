package torrentfile

import (
	"net/url"
	"strconv"

	"github.com/anacrolix/torrent/metainfo"
)

// Magnet returns the magnet link of a torrent: infohash, display name,
// exact length, its trackers and its web seeds (BEP 9, BEP 19 "ws").
func Magnet(mi *metainfo.MetaInfo, name string, size int64) string {
	m := metainfo.Magnet{InfoHash: mi.HashInfoBytes(), DisplayName: name, Params: url.Values{}}
	for _, tier := range mi.UpvertedAnnounceList() {
		m.Trackers = append(m.Trackers, tier...)
	}
	for _, ws := range mi.UrlList {
		m.Params.Add("ws", ws)
	}
	m.Params.Set("xl", strconv.FormatInt(size, 10))
	return m.String()
}
