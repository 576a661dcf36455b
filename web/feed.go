package web

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"github.com/lanseedd/lanseedd"
	"github.com/lanseedd/lanseedd/store"
)

type rss struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	TTL         int       `xml:"ttl"`
	LastBuild   string    `xml:"lastBuildDate,omitempty"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title     string       `xml:"title"`
	Link      string       `xml:"link"`
	GUID      rssGUID      `xml:"guid"`
	PubDate   string       `xml:"pubDate"`
	Enclosure rssEnclosure `xml:"enclosure"`
	Desc      string       `xml:"description,omitempty"`
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssEnclosure struct {
	URL    string `xml:"url,attr"`
	Length int64  `xml:"length,attr"`
	Type   string `xml:"type,attr"`
}

// feed serves GET /feed.rss: the newest ready torrents, so that clients'
// RSS downloaders pick new content up. A GUID is the infohash: stable for
// the same content, new when the content changes.
func (p *Public) feed(w http.ResponseWriter, r *http.Request) {
	var rows []lanseedd.Row
	err := p.outage.read(r.Context(), func(ctx context.Context) (err error) {
		rows, err = p.cat.Page(ctx, store.Query{
			States: []lanseedd.State{lanseedd.StateReady}, Newest: true, Limit: p.cfg.FeedItems,
		})
		return err
	})
	if err != nil {
		// Logged once per outage by p.outage.
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the catalog is unavailable; try again shortly", http.StatusServiceUnavailable)
		return
	}
	doc := rss{Version: "2.0", Channel: rssChannel{
		Title:       "lanseedd: new files",
		Link:        p.cfg.BaseURL + "/",
		Description: "The newest files shared over BitTorrent on this server",
		TTL:         5,
	}}
	for _, row := range rows {
		if doc.Channel.LastBuild == "" {
			doc.Channel.LastBuild = row.UpdatedAt.Format(time.RFC1123Z)
		}
		link := p.cfg.BaseURL + "/t/" + strconv.FormatInt(row.FileID, 10) + ".torrent"
		// The length of what the enclosure's URL serves now, which is not
		// the stored file's while our web seed is left out.
		body, _, _, err := p.servedTorrent(row)
		if err != nil {
			continue // being redone; the next fetch of the feed lists it
		}
		doc.Channel.Items = append(doc.Channel.Items, rssItem{
			Title:     row.Name,
			Link:      link,
			GUID:      rssGUID{Value: "urn:btih:" + row.InfoHash},
			PubDate:   row.UpdatedAt.Format(time.RFC1123Z),
			Enclosure: rssEnclosure{URL: link, Length: int64(len(body)), Type: "application/x-bittorrent"},
			Desc:      row.Path + " (" + FormatBytes(row.Size) + ")",
		})
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	enc.Encode(doc)
}
