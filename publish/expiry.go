package publish

import (
	"fmt"
	"time"

	"github.com/lanseedd/lanseedd"
)

// Expired says why row is past its expiry at now, or "" if it is not: its
// catalog expiry has passed, or its torrent was published more than
// MaxAge ago. A row never published is not past MaxAge.
func (c Config) Expired(row lanseedd.Row, now time.Time) string {
	if !row.ExpiresAt.IsZero() && !now.Before(row.ExpiresAt) {
		return fmt.Sprintf("expired at %s (catalog column %s)", row.ExpiresAt.UTC().Format(time.RFC3339), c.ExpiresColumn)
	}
	if c.MaxAge > 0 && !row.PublishedAt.IsZero() && !now.Before(row.PublishedAt.Add(c.MaxAge)) {
		return fmt.Sprintf("published at %s, more than publish.max_age (%s) ago",
			row.PublishedAt.UTC().Format(time.RFC3339), c.MaxAge)
	}
	return ""
}
