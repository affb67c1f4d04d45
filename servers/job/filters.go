package job

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"brun/servers/enrich"
)

// Bounds of the fields a job's files and events are chosen by. A job comes
// from etcd, which anyone with write access to the job prefix can fill:
// these keep what a job costs the agent on every scan and every event
// bounded, whatever its value.
const (
	// MaxPathBytes bounds path and each exclude glob (PATH_MAX).
	MaxPathBytes = 4096
	// MaxGlobAlternatives bounds the patterns a glob's {a,b} groups expand
	// to: each is globbed, or matched, on its own, and nested or repeated
	// groups multiply.
	MaxGlobAlternatives = 64
	// MaxDoubleStars bounds the ** segments of path: each walks the whole
	// tree below the one before it.
	MaxDoubleStars = 2
	// MaxLinePatterns bounds include_lines and exclude_lines, each.
	MaxLinePatterns = 64
	// MaxLinePatternBytes bounds one expression of include_lines or
	// exclude_lines. RE2 matches in time linear in the event's length, so
	// with the pattern count and size bounded an event costs at most a few
	// passes over max_line_bytes.
	MaxLinePatternBytes = 1024
	// MaxIgnoreOlder bounds ignore_older (about a hundred years).
	MaxIgnoreOlder = 36500 * 24 * time.Hour
)

// The values of start.
const (
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// validateFilters checks include_lines, exclude_lines, start and
// ignore_older, reporting each problem through bad.
func (s Spec) validateFilters(bad func(field, format string, args ...any)) {
	for _, l := range []struct {
		name string
		list []string
	}{{"include_lines", s.IncludeLines}, {"exclude_lines", s.ExcludeLines}} {
		if len(l.list) > MaxLinePatterns {
			bad(l.name, "has %d expressions; at most %d", len(l.list), MaxLinePatterns)
			continue
		}
		for i, p := range l.list {
			field := fmt.Sprintf("%s[%d]", l.name, i)
			switch {
			case p == "":
				bad(field, "is empty (it would match every event)")
			case len(p) > MaxLinePatternBytes:
				bad(field, "%.64q... is %d bytes; at most %d", p, len(p), MaxLinePatternBytes)
			default:
				if _, err := regexp.Compile(p); err != nil {
					bad(field, "%q is not a valid regular expression: %v", p, err)
				}
			}
		}
	}
	if s.Start != "" && s.Start != StartBeginning && s.Start != StartEnd {
		bad("start", "%q is not %q or %q", s.Start, StartBeginning, StartEnd)
	}
	if s.IgnoreOlder != "" {
		if _, err := parseAge(s.IgnoreOlder); err != nil {
			bad("ignore_older", "%q %v", s.IgnoreOlder, err)
		}
	}
	if s.Timezone != "" && !validZone(s.Timezone) {
		bad("timezone", "%q is not a time zone: an IANA name such as Asia/Shanghai, an offset such as +08:00, or UTC", s.Timezone)
	}
}

// validZone reports whether tz names a zone the transfer can read times
// in (enrich.Zone): an offset, or a name of the IANA database as the
// agent's Go knows it; "Local", which would mean the transfer's own zone,
// is refused.
func validZone(tz string) bool { return enrich.Zone([]byte(tz)) != nil }

// StartAtEnd reports whether start is "end".
func (s Spec) StartAtEnd() bool { return s.Start == StartEnd }

// MaxAge returns ignore_older, or 0 when every file is read.
func (s Spec) MaxAge() time.Duration {
	d, _ := parseAge(s.IgnoreOlder)
	return d
}

// parseAge parses a positive duration: Go's ("36h", "90m") or a whole
// number of days ("7d"). "" is 0.
func parseAge(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	bad := fmt.Errorf("is not a positive duration such as 24h or 7d (at most %dd)", int64(MaxIgnoreOlder/(24*time.Hour)))
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > int64(MaxIgnoreOlder/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d <= 0 || d > MaxIgnoreOlder {
		return 0, bad
	}
	return d, nil
}

// globProblem says what is wrong with a glob of path (isPath) or exclude,
// or returns "". Globs are doublestar's: * and ? within a name, ** for any
// number of directories, [a-z] classes and {a,b} alternatives.
func globProblem(g string, isPath bool) string {
	if !doublestar.ValidatePathPattern(g) {
		return "is not a valid glob"
	}
	if n := alternatives(g); n > MaxGlobAlternatives {
		return fmt.Sprintf("expands to more than %d patterns ({a,b} groups multiply)", MaxGlobAlternatives)
	}
	if !isPath {
		return ""
	}
	stars := 0
	for _, seg := range strings.Split(g, "/") {
		if seg == "**" {
			stars++
		}
	}
	if stars > MaxDoubleStars {
		return fmt.Sprintf("has %d ** segments; at most %d", stars, MaxDoubleStars)
	}
	return ""
}

// alternatives returns how many patterns g's {a,b} groups expand to,
// counting no further than MaxGlobAlternatives+1. A \ escapes the next
// byte; inside [...] braces are plain.
func alternatives(g string) int {
	n, _ := altSeq(g, 0, false)
	return n
}

// altSeq counts the expansions of the sequence starting at g[i], up to the
// end of g or, inGroup, to the ',' or '}' that ends the branch; it returns
// the count and where it stopped.
func altSeq(g string, i int, inGroup bool) (int, int) {
	const limit = MaxGlobAlternatives + 1
	n := 1
	for i < len(g) {
		switch g[i] {
		case '\\':
			i += 2
		case '[':
			j := i + 1
			for j < len(g) && g[j] != ']' {
				if g[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case '{':
			sum := 0
			i++
			for {
				b, at := altSeq(g, i, true)
				sum = min(sum+b, limit)
				i = at
				if i >= len(g) || g[i] == '}' {
					i++
					break
				}
				i++ // past ','
			}
			n = min(n*sum, limit)
		case ',', '}':
			if inGroup {
				return n, i
			}
			i++
		default:
			i++
		}
	}
	return n, i
}
