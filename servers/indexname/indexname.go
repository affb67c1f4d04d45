// Package indexname turns es.index ("{topic}-{yyyy.MM.dd}") into index
// names: the transfer names each document's index with it, the console
// finds a topic's indices (in Elasticsearch or in local files) with it.
// It is a leaf: it imports nothing of brun.
package indexname

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Pattern is es.index compiled: literal text, {topic} (lower-cased,
// since index names must be), and dates such as {yyyy.MM.dd} in UTC.
type Pattern struct {
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

// Parse compiles es.index; the error names the key and value.
func Parse(s string) (*Pattern, error) {
	p := &Pattern{src: s}
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

// Name returns the index of a document of topic at time t.
func (p *Pattern) Name(topic string, t time.Time) string {
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

// Alias returns the alias of topic's indices: the topic in lower case, as
// the index names have it (so "App" and "app", whose indices are the same,
// share it); ok is false for a name Elasticsearch refuses as an alias
// ("." or "..", or one starting with '_', '-' or '+').
func Alias(topic string) (alias string, ok bool) {
	if topic == "" || topic == "." || topic == ".." || strings.ContainsAny(topic[:1], "_-+") {
		return "", false
	}
	return strings.ToLower(topic), true
}

// Wildcard returns the index pattern matching every name p makes, for the
// index template and the Kibana data view: {topic} and each run of date
// digits become '*', separators are kept ("{topic}-{yyyy.MM.dd}" gives
// "*-*.*.*"), so the template does not catch unrelated indices.
func (p *Pattern) Wildcard() string { return p.wildcard("") }

// wildcard is Wildcard with the topic written as topic (lower-cased), or
// as '*' when it is "".
func (p *Pattern) wildcard(topic string) string {
	var b strings.Builder
	star := func() {
		if !strings.HasSuffix(b.String(), "*") {
			b.WriteByte('*')
		}
	}
	for _, part := range p.parts {
		switch {
		case part.topic && topic == "":
			star()
		case part.topic:
			b.WriteString(strings.ToLower(topic))
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

// OfTopic returns the glob matching exactly the index names p makes for
// topic, on any date: each date digit becomes '?' ("demo-????.??.??").
// Elasticsearch's wildcard query on _index and path.Match both read it.
func (p *Pattern) OfTopic(topic string) string {
	var b strings.Builder
	for _, part := range p.parts {
		switch {
		case part.topic:
			b.WriteString(strings.ToLower(topic))
		case part.layout != "":
			for _, c := range []byte(part.layout) {
				if c >= '0' && c <= '9' {
					b.WriteByte('?')
				} else {
					b.WriteByte(c)
				}
			}
		default:
			b.WriteString(strings.ReplaceAll(part.literal, "[", `\[`))
		}
	}
	return b.String()
}

// TopicWildcard returns the index pattern matching every name p makes for
// topic, for topic's index template: the topic as it is, each run of date
// digits a '*' ("{topic}-{yyyy.MM.dd}" gives "app-*.*.*" for app). It
// also matches the indices of a longer topic that starts the same way
// ("app-x-2026.12.04"); that topic's own template outranks it.
func (p *Pattern) TopicWildcard(topic string) string { return p.wildcard(topic) }

// HasDate reports whether p names indices by date: without one, every
// document of a topic goes to one index.
func (p *Pattern) HasDate() bool {
	for _, part := range p.parts {
		if part.layout != "" {
			return true
		}
	}
	return false
}

// Day returns the UTC day an index name of topic stands for; ok is false
// when index is not a name p makes for topic, or p has no date.
func (p *Pattern) Day(topic, index string) (day time.Time, ok bool) {
	if !p.MatchTopic(topic, index) || !p.HasDate() {
		return time.Time{}, false
	}
	var layout, value strings.Builder
	rest := index
	for _, part := range p.parts {
		n := len(part.literal)
		switch {
		case part.topic:
			n = len(topic)
		case part.layout != "":
			n = len(part.layout) // yyyy, MM and dd are fixed width
			layout.WriteString(part.layout + "|")
			value.WriteString(rest[:n] + "|")
		}
		if n > len(rest) {
			return time.Time{}, false
		}
		rest = rest[n:]
	}
	t, err := time.Parse(layout.String(), value.String())
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// MatchTopic reports whether index is a name p makes for topic.
func (p *Pattern) MatchTopic(topic, index string) bool {
	ok, _ := path.Match(p.OfTopic(topic), index)
	return ok
}

// String returns es.index as configured.
func (p *Pattern) String() string { return p.src }
