package collector

import (
	"bytes"
	"cmp"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"brun/servers/enrich"
	"brun/servers/event"
	"brun/servers/job"
)

// pins reads what a job pins of each line (job.Timestamp, job.Level,
// job.Message) instead of leaving it to the transfer's recognition. What a
// line does not hold as pinned (the field is missing, the layout does not
// read it) is left out, and the transfer looks for it as for any line.
type pins struct {
	layout    enrich.Layout
	hasLayout bool
	tsField   string
	tsRe      *regexp.Regexp
	lvField   string
	lvRe      *regexp.Regexp
	msgField  string
	// loc is the zone a time without one is read in: the job's timezone,
	// else the host's.
	loc *time.Location
}

// newPins compiles the pins of a valid spec; hostZone is the host's
// event.timezone. It returns nil when the job pins nothing.
func newPins(spec job.Spec, hostZone string) *pins {
	if spec.Timestamp == nil && spec.Level == nil && spec.Message == nil {
		return nil
	}
	p := &pins{loc: enrich.Zone([]byte(cmp.Or(spec.Timezone, hostZone)))}
	if t := spec.Timestamp; t != nil {
		p.layout, _ = enrich.NewLayout(t.Layout) // validated with the spec
		p.hasLayout, p.tsField = true, t.Field
		if t.Pattern != "" {
			p.tsRe = regexp.MustCompile(t.Pattern)
		}
	}
	if l := spec.Level; l != nil {
		p.lvField = l.Field
		if l.Pattern != "" {
			p.lvRe = regexp.MustCompile(l.Pattern)
		}
	}
	if m := spec.Message; m != nil {
		p.msgField = m.Field
	}
	return p
}

// maxPinnedScan bounds how much of a line the patterns look at, as the
// transfer's recognition does: a time or level is near a line's start.
const maxPinnedScan = 4096

// read returns what the pins find in line, read at read.
func (p *pins) read(line []byte, read time.Time) event.Pinned {
	var out event.Pinned
	var members map[string]json.RawMessage
	if p.tsField != "" || p.lvField != "" || p.msgField != "" {
		// A line that is not a JSON object has no members: nothing of it
		// is pinned by field.
		if err := json.Unmarshal(line, &members); err != nil {
			members = nil
		}
	}
	head := line[:min(len(line), maxPinnedScan)]
	if p.hasLayout {
		switch {
		case p.tsField != "":
			if v, ok := member(members, p.tsField); ok {
				if s, ok := text(v); ok {
					out.Time, _ = p.layout.Parse(s, read, p.loc)
				}
			}
		case p.tsRe != nil:
			if m := p.tsRe.FindSubmatch(head); m != nil {
				out.Time, _ = p.layout.Parse(m[1], read, p.loc)
			}
		default:
			out.Time, _ = p.layout.Prefix(line, read, p.loc)
		}
	}
	switch {
	case p.lvField != "":
		if v, ok := member(members, p.lvField); ok {
			if s, ok := text(v); ok {
				out.Level = enrich.LevelValue(s)
			}
		}
	case p.lvRe != nil:
		if m := p.lvRe.FindSubmatch(head); m != nil {
			out.Level = enrich.LevelValue(m[1])
		}
	}
	if p.msgField != "" {
		if v, ok := member(members, p.msgField); ok {
			if s, ok := text(v); ok {
				out.Message = s
			}
		}
	}
	return out
}

// maxMemberDepth bounds the objects a dotted field name walks into: each
// is decoded again.
const maxMemberDepth = 8

// member finds name in a JSON line's members: a top-level member of that
// name, or else the path its dots spell through nested objects
// ("log.level" in {"log":{"level":"info"}}), at most maxMemberDepth deep.
func member(members map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	return memberAt(members, name, 0)
}

func memberAt(members map[string]json.RawMessage, name string, depth int) (json.RawMessage, bool) {
	if members == nil || depth >= maxMemberDepth {
		return nil, false
	}
	if v, ok := members[name]; ok {
		return v, true
	}
	first, rest, ok := strings.Cut(name, ".")
	if !ok {
		return nil, false
	}
	v, ok := members[first]
	if !ok || len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(v, &inner) != nil {
		return nil, false
	}
	return memberAt(inner, rest, depth+1)
}

// text returns a member's value as text: a string's content, or a number
// as written (epoch times, numeric levels); nothing for other kinds.
func text(v json.RawMessage) ([]byte, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch {
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return []byte(s), true
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		return v, true
	}
	return nil, false
}
