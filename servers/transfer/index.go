package transfer

import (
	"fmt"
	"strings"
	"time"
)

// indexPattern is es.index compiled: literal text, {topic} (lower-cased,
// since index names must be), and dates such as {yyyy.MM.dd} in UTC.
type indexPattern struct {
	src   string
	parts []patternPart
}

type patternPart struct {
	literal string
	topic   bool
	layout  string // Go time layout of a date placeholder
}

// dateTokens maps the Joda-style tokens of a date placeholder (as in
// Logstash's %{+yyyy.MM.dd}) to Go's layout. Only day-or-coarser tokens:
// an index name must not change more often than daily.
var dateTokens = []struct{ joda, goLayout string }{
	{"yyyy", "2006"}, {"MM", "01"}, {"dd", "02"},
}

// indexNameForbidden are the bytes Elasticsearch refuses in index names.
const indexNameForbidden = `\/*?"<>| ,#:`

// parseIndexPattern compiles es.index; the error names the key and value.
func parseIndexPattern(s string) (*indexPattern, error) {
	p := &indexPattern{src: s}
	bad := func(why string) error { return fmt.Errorf("es.index: %q %s", s, why) }
	hasTopic := false
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			p.parts = append(p.parts, patternPart{literal: rest})
			break
		}
		if open > 0 {
			p.parts = append(p.parts, patternPart{literal: rest[:open]})
		}
		closing := strings.IndexByte(rest[open:], '}')
		if closing < 0 {
			return nil, bad("has an unclosed '{'")
		}
		name := rest[open+1 : open+closing]
		rest = rest[open+closing+1:]
		if name == "topic" {
			hasTopic = true
			p.parts = append(p.parts, patternPart{topic: true})
			continue
		}
		layout, ok := dateLayout(name)
		if !ok {
			return nil, bad(fmt.Sprintf("has an unknown placeholder {%s} (use {topic} and dates made of yyyy, MM, dd)", name))
		}
		p.parts = append(p.parts, patternPart{layout: layout})
	}
	if !hasTopic {
		return nil, bad("must contain {topic}")
	}
	for _, part := range p.parts {
		if strings.ContainsAny(part.literal, indexNameForbidden) || strings.ToLower(part.literal) != part.literal {
			return nil, bad(fmt.Sprintf("has %q, which is not allowed in an index name (lower case, none of %s)", part.literal, indexNameForbidden))
		}
	}
	if strings.HasPrefix(s, "_") || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return nil, bad("must not start with '_', '-' or '+'")
	}
	return p, nil
}

func dateLayout(name string) (string, bool) {
	var b strings.Builder
	found := false
	for i := 0; i < len(name); {
		matched := false
		for _, t := range dateTokens {
			if strings.HasPrefix(name[i:], t.joda) {
				b.WriteString(t.goLayout)
				i += len(t.joda)
				matched, found = true, true
				break
			}
		}
		if matched {
			continue
		}
		c := name[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			return "", false // an unsupported token such as HH or a stray letter
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), found
}

// name returns the index of a document of topic at time t.
func (p *indexPattern) name(topic string, t time.Time) string {
	var b []byte
	t = t.UTC()
	for _, part := range p.parts {
		switch {
		case part.topic:
			b = append(b, strings.ToLower(topic)...)
		case part.layout != "":
			b = t.AppendFormat(b, part.layout)
		default:
			b = append(b, part.literal...)
		}
	}
	return string(b)
}

// wildcard returns the index pattern matching every name p makes, for the
// index template and the Kibana data view: {topic} and each run of date
// digits become '*', separators are kept ("{topic}-{yyyy.MM.dd}" gives
// "*-*.*.*"), so the template does not catch unrelated indices.
func (p *indexPattern) wildcard() string {
	var b strings.Builder
	star := func() {
		if !strings.HasSuffix(b.String(), "*") {
			b.WriteByte('*')
		}
	}
	for _, part := range p.parts {
		switch {
		case part.topic:
			star()
		case part.layout != "":
			for _, c := range []byte(part.layout) {
				if c >= '0' && c <= '9' {
					star()
				} else {
					b.WriteByte(c)
				}
			}
		default:
			b.WriteString(part.literal)
		}
	}
	return b.String()
}

// indexNames caches the index name of one topic for the current day: a
// partition's documents nearly all fall on the same day, so the name is
// made once a day, not once a document.
type indexNames struct {
	pattern *indexPattern
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
		c.day, c.last = day, c.pattern.name(c.topic, t)
	}
	return c.last
}

// deadLetterIndex is where documents Elasticsearch refuses for good go:
// deadletter-YYYY.MM.DD, by the day they were refused (UTC).
func deadLetterIndex(now time.Time) string { return "deadletter-" + now.UTC().Format("2006.01.02") }
