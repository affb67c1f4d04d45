package transfer

import (
	"time"

	"brun/servers/indexname"
)

// indexNames caches the index name of one topic for the current day: a
// partition's documents nearly all fall on the same day, so the name is
// made once a day, not once a document.
type indexNames struct {
	pattern *indexname.Pattern
	topic   string
	day     int64
	last    string
}

func (c *indexNames) name(t time.Time) string {
	day := t.Unix()
	if day < 0 {
		day -= 86399
	}
	day /= 86400
	if c.last == "" || day != c.day {
		c.day, c.last = day, c.pattern.Name(c.topic, t)
	}
	return c.last
}

// deadLetterIndex is where documents Elasticsearch refuses for good go:
// deadletter-YYYY.MM.DD, by the day they were refused (UTC).
func deadLetterIndex(now time.Time) string { return "deadletter-" + now.UTC().Format("2006.01.02") }
