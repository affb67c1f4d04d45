package job

import (
	"regexp"

	"brun/servers/enrich"
)

// Timestamp pins a line's time: its layout, and where it is. With neither
// field nor pattern, the time starts the line.
//
//	{"layout": "2006-01-02 15:04:05.000"}
//	{"layout": "02/Jan/2006:15:04:05 -0700", "pattern": "\\[([^\\]]+)\\]"}
//	{"layout": "UNIX_MS", "field": "ts"}          (a job with "json": true)
type Timestamp struct {
	// Layout is a Go layout, or UNIX, UNIX_MS or RFC3339 (ISO8601).
	Layout string `json:"layout"`
	// Field is the member of a JSON line that holds the time.
	Field string `json:"field,omitempty"`
	// Pattern is a regular expression whose first group is the time.
	Pattern string `json:"pattern,omitempty"`
}

// Level pins a line's level: a member of a JSON line, or the first group
// of a regular expression.
type Level struct {
	Field   string `json:"field,omitempty"`
	Pattern string `json:"pattern,omitempty"`
}

// Message pins the member of a JSON line that is the event's message; the
// line itself is kept in event.original.
type Message struct {
	Field string `json:"field"`
}

// MaxFieldBytes bounds the member names pins give.
const MaxFieldBytes = 256

// validatePins checks timestamp, level and message, reporting each
// problem through bad.
func (s Spec) validatePins(bad func(field, format string, args ...any)) {
	field := func(name, f string) {
		switch {
		case len(f) > MaxFieldBytes:
			bad(name, "%.64q... is %d bytes; at most %d", f, len(f), MaxFieldBytes)
		case !s.JSON:
			bad(name, "names a member of a JSON line, so the job needs \"json\": true")
		}
	}
	pattern := func(name, p string) {
		switch {
		case len(p) > MaxLinePatternBytes:
			bad(name, "%.64q... is %d bytes; at most %d", p, len(p), MaxLinePatternBytes)
			return
		}
		re, err := regexp.Compile(p)
		switch {
		case err != nil:
			bad(name, "%q is not a valid regular expression: %v", p, err)
		case re.NumSubexp() < 1:
			bad(name, "%q has no group: its first (...) is the value", p)
		}
	}
	if t := s.Timestamp; t != nil {
		if t.Layout == "" {
			bad("timestamp.layout", "is required (a Go layout such as 2006-01-02 15:04:05, or UNIX, UNIX_MS, RFC3339)")
		} else if _, err := enrich.NewLayout(t.Layout); err != nil {
			bad("timestamp.layout", "%q %v", t.Layout, err)
		}
		switch {
		case t.Field != "" && t.Pattern != "":
			bad("timestamp", "gives both field and pattern; give one")
		case t.Field != "":
			field("timestamp.field", t.Field)
		case t.Pattern != "":
			pattern("timestamp.pattern", t.Pattern)
		}
	}
	if l := s.Level; l != nil {
		switch {
		case l.Field != "" && l.Pattern != "":
			bad("level", "gives both field and pattern; give one")
		case l.Field != "":
			field("level.field", l.Field)
		case l.Pattern != "":
			pattern("level.pattern", l.Pattern)
		default:
			bad("level", "needs field or pattern")
		}
	}
	if m := s.Message; m != nil {
		if m.Field == "" {
			bad("message.field", "is required")
		} else {
			field("message.field", m.Field)
		}
	}
}
