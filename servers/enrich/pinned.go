package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file serves a job that pins its format instead of leaving it to
// recognition: a time layout, a level value, a zone by name. The agent
// reads such jobs' lines with it; unlike Time and Level it may allocate
// and uses time.Parse, since only the jobs that ask for it pay.

// The layout names a job may give besides a Go layout, as Filebeat's
// timestamp processor names them.
const (
	LayoutUnix    = "UNIX"    // seconds since 1970, with an optional fraction
	LayoutUnixMs  = "UNIX_MS" // milliseconds since 1970
	LayoutRFC3339 = "RFC3339" // time.RFC3339, with or without a fraction
	LayoutISO8601 = "ISO8601" // the same as RFC3339
)

// Layout reads times written in one format a job names.
type Layout struct {
	layout string // a Go layout, or one of the names above
	// noYear: the layout writes no year, so the year is the one that puts
	// the time nearest before the read time.
	noYear bool
	// width is the length of the reference time in the layout, where a
	// time at the start of a line is looked for.
	width int
	// fixed: every time is width long in the layout (no month or day
	// names, unpadded numbers, optional fractions or zone names), so a
	// time at a line's start is read in one try.
	fixed bool
}

// others are times that the layouts whose width varies write at other
// widths than ref: other names of months and days, single digits, no
// fraction, another zone's name.
var others = []time.Time{
	time.Date(2019, time.May, 1, 1, 2, 3, 0, time.UTC),
	time.Date(2021, time.September, 3, 11, 2, 3, 100000000, time.FixedZone("AEST", 10*3600)),
}

// ref is the time layouts are checked against: every element differs
// from the others, so a layout that drops or repeats one is caught.
var ref = time.Date(2017, time.November, 23, 19, 45, 56, 789123456, time.FixedZone("", 3*3600+30*60))

// NewLayout checks a job's layout: one of the names above, or a Go layout
// ("2006-01-02 15:04:05.000") that writes at least a day and a clock and
// reads back what it writes.
func NewLayout(layout string) (Layout, error) {
	switch layout {
	case LayoutUnix, LayoutUnixMs:
		return Layout{layout: layout}, nil
	case LayoutRFC3339, LayoutISO8601:
		return Layout{layout: time.RFC3339Nano, width: len(time.RFC3339)}, nil
	}
	if layout == "" || len(layout) > 64 {
		return Layout{}, errors.New("must be 1 to 64 bytes")
	}
	s := ref.Format(layout)
	t, err := time.Parse(layout, s)
	if err != nil {
		return Layout{}, fmt.Errorf("does not read back the time it writes (%q): %v", s, err)
	}
	if t.Day() != ref.Day() || t.Hour() != ref.Hour() || t.Minute() != ref.Minute() {
		return Layout{}, fmt.Errorf("writes %q for %s: it needs a day, an hour and a minute (Go layout: 2006-01-02 15:04:05; or UNIX, UNIX_MS, RFC3339)", s, ref.Format(time.RFC3339))
	}
	fixed := true
	for _, o := range others {
		fixed = fixed && len(o.Format(layout)) == len(s)
	}
	return Layout{layout: layout, noYear: t.Year() != ref.Year(), width: len(s), fixed: fixed}, nil
}

// Parse reads s whole as a time in the layout; a time without a zone is in
// loc (nil: UTC). A number (a JSON member) is read by UNIX and UNIX_MS
// only.
func (l Layout) Parse(s []byte, read time.Time, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	switch l.layout {
	case LayoutUnix, LayoutUnixMs:
		f, err := strconv.ParseFloat(string(s), 64)
		if err != nil || math.IsNaN(f) || f <= 0 {
			return time.Time{}, false
		}
		if l.layout == LayoutUnixMs {
			f /= 1e3
		}
		if f > 1e11 { // past the year 5000: not a time, and nanoseconds would overflow
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC().Round(time.Microsecond), true
	}
	t, err := time.ParseInLocation(l.layout, string(s), loc)
	if err != nil {
		return time.Time{}, false
	}
	if l.noYear {
		return nearestYear(int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), read, t.Location())
	}
	return t, true
}

// Prefix reads the time that starts line: the longest text of about the
// layout's width that Parse takes, ending at the line's end or before a
// byte that is not a letter or digit.
func (l Layout) Prefix(line []byte, read time.Time, loc *time.Location) (time.Time, bool) {
	if l.fixed {
		if n := l.width; n <= len(line) && (n == len(line) || !isAlnum(line[n])) {
			return l.Parse(line[:n], read, loc)
		}
		return time.Time{}, false
	}
	lo, hi := 1, len(line)
	if l.width > 0 {
		lo, hi = max(1, l.width-8), min(len(line), l.width+16)
	} else {
		hi = min(len(line), 24) // epoch digits and a fraction
	}
	for n := hi; n >= lo; n-- {
		if n < len(line) && isAlnum(line[n]) {
			continue
		}
		if t, ok := l.Parse(line[:n], read, loc); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// Zone returns the location a zone name names: an IANA name ("Asia/
// Shanghai", read from the system's zone database), an offset such as
// "+08:00", or "Z" or "UTC"; nil for anything else, "Local" included.
func Zone(name []byte) *time.Location {
	if len(name) == 0 || len(name) > 64 {
		return nil
	}
	if off, ok := offset(name); ok {
		if off == 0 {
			return time.UTC
		}
		return time.FixedZone(string(name), off)
	}
	if string(name) == "Local" {
		return nil
	}
	if l, err := time.LoadLocation(string(name)); err == nil {
		return l
	}
	return nil
}

// offset reads "Z" or "+08:00" (the form the agent writes) in seconds
// east of UTC.
func offset(s []byte) (int, bool) {
	if string(s) == "Z" {
		return 0, true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	m, ok2 := digits(s[4:6])
	if !ok1 || !ok2 || h > 14 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// maxLevelValue bounds a pinned level kept as written.
const maxLevelValue = 32

// pinoLevels are the levels pino and bunyan write as 10, 20 ... 60.
var pinoLevels = [6]string{"trace", "debug", "info", "warn", "error", "fatal"}

// LevelValue returns log.level for the value a job pins as the level (a
// JSON member or a pattern's group): a level word or letter in any case
// ("Warning", "W", "ERR"), a syslog severity number (0 to 7), pino's and
// bunyan's numbers (10 trace to 60 fatal), or else the
// value itself in lower case when it is short printable text; "" for an
// empty or unusable value.
func LevelValue(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || len(v) > maxLevelValue {
		return ""
	}
	if len(v) == 2 && v[1] == '0' && v[0] >= '1' && v[0] <= '6' {
		return pinoLevels[v[0]-'1'] // pino's and bunyan's 10 to 60
	}
	if len(v) == 1 {
		if isDigit(v[0]) && v[0] <= '7' {
			return severities[v[0]-'0']
		}
		if lv := letter(v[0]&^0x20, "VDIWEF"); lv != "" {
			return lv
		}
	}
	if lv := word(v, true); lv != "" {
		return lv
	}
	if lv := levels[strings.ToLower(string(v))]; lv != "" { // "WaRn": any case when pinned
		return lv
	}
	if !utf8.Valid(v) {
		return ""
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return ""
		}
	}
	return strings.ToLower(string(v))
}
