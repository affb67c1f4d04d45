package enrich

import (
	"testing"
	"time"
)

func TestLayoutParse(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	read := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		layout, value string
		loc           *time.Location
		want          string // RFC 3339 in UTC; "" means not read
	}{
		{"2006-01-02 15:04:05.000", "2025-12-03 10:00:00.123", nil, "2025-12-03T10:00:00.123Z"},
		{"2006-01-02 15:04:05.000", "2025-12-03 10:00:00.123", shanghai, "2025-12-03T02:00:00.123Z"},
		{"2006-01-02 15:04:05 -0700", "2025-12-03 10:00:00 +0100", shanghai, "2025-12-03T09:00:00Z"},
		// no year: the one that puts it nearest before the read time
		{"Jan _2 15:04:05", "Dec 31 23:59:59", nil, "2025-12-31T23:59:59Z"},
		{"Jan _2 15:04:05", "Jan  2 02:00:00", nil, "2026-01-02T02:00:00Z"},
		{"Jan _2 15:04:05", "Feb 29 10:00:00", nil, ""}, // not in 2025 nor in 2026
		{"02/01/06 15:04", "03/12/25 10:00", nil, "2025-12-03T10:00:00Z"},
		{"RFC3339", "2025-12-03T10:00:00.5+08:00", nil, "2025-12-03T02:00:00.5Z"},
		{"ISO8601", "2025-12-03T10:00:00Z", nil, "2025-12-03T10:00:00Z"},
		{"UNIX", "1764756000", nil, "2025-12-03T10:00:00Z"},
		{"UNIX", "1764756000.25", nil, "2025-12-03T10:00:00.25Z"},
		{"UNIX_MS", "1764756000123", nil, "2025-12-03T10:00:00.123Z"},
		{"UNIX", "-5", nil, ""},
		{"UNIX", "1e300", nil, ""},
		{"UNIX", "NaN", nil, ""},
		{"UNIX_MS", "soon", nil, ""},
		{"2006-01-02 15:04:05", "2025-12-03 10:00:00 extra", nil, ""},
		{"2006-01-02 15:04:05", "2025-02-30 10:00:00", nil, ""},
	}
	for _, c := range cases {
		l, err := NewLayout(c.layout)
		if err != nil {
			t.Fatalf("NewLayout(%q): %v", c.layout, err)
		}
		got, ok := l.Parse([]byte(c.value), read, c.loc)
		switch {
		case c.want == "" && ok:
			t.Errorf("%q in %q read as %s; want nothing", c.value, c.layout, got.UTC().Format(time.RFC3339Nano))
		case c.want != "" && (!ok || got.UTC().Format(time.RFC3339Nano) != c.want):
			t.Errorf("%q in %q read as %s, %v; want %s", c.value, c.layout, got.UTC().Format(time.RFC3339Nano), ok, c.want)
		}
	}
}

func TestLayoutPrefix(t *testing.T) {
	read := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		layout, line string
		want         string // "" means none
	}{
		{"2006-01-02 15:04:05", "2025-12-03 10:00:00 INFO started", "2025-12-03T10:00:00Z"},
		{"2006-01-02 15:04:05.999", "2025-12-03 10:00:00.5 INFO x", "2025-12-03T10:00:00.5Z"},
		{"2006-01-02 15:04:05.999", "2025-12-03 10:00:00 INFO x", "2025-12-03T10:00:00Z"},
		{"2006-01-02 15:04:05", "2025-12-03 10:00:00", "2025-12-03T10:00:00Z"},
		{"Jan _2 15:04:05", "Dec  3 10:00:00 host sshd[1]: x", "2025-12-03T10:00:00Z"},
		{"January 2 2006 15:04", "September 3 2025 10:00 x", "2025-09-03T10:00:00Z"},
		{"UNIX", "1764756000.5 GET /", "2025-12-03T10:00:00.5Z"},
		{"2006-01-02 15:04:05", "INFO 2025-12-03 10:00:00", ""},
		{"2006-01-02 15:04:05", "2025-12-03 10:00:00x", ""},
		{"2006-01-02 15:04:05", "", ""},
	}
	for _, c := range cases {
		l, err := NewLayout(c.layout)
		if err != nil {
			t.Fatalf("NewLayout(%q): %v", c.layout, err)
		}
		got, ok := l.Prefix([]byte(c.line), read, nil)
		switch {
		case c.want == "" && ok:
			t.Errorf("%q in %q read as %s; want nothing", c.line, c.layout, got.UTC().Format(time.RFC3339Nano))
		case c.want != "" && (!ok || got.UTC().Format(time.RFC3339Nano) != c.want):
			t.Errorf("%q in %q read as %s, %v; want %s", c.line, c.layout, got.UTC().Format(time.RFC3339Nano), ok, c.want)
		}
	}
}

func TestNewLayoutRefuses(t *testing.T) {
	for _, l := range []string{"", "2006-01-02", "15:04:05", "yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S", "Mon Jan"} {
		if _, err := NewLayout(l); err == nil {
			t.Errorf("NewLayout(%q) took a layout without a day, an hour and a minute", l)
		}
	}
}

func TestLevelValue(t *testing.T) {
	cases := map[string]string{
		"INFO": "info", "Warning": "warning", "WaRn": "warn", "W": "warn", "e": "error", "3": "err", "7": "debug",
		" notice ": "notice", "SEVERE": "severe", "audit": "audit", "Custom-1": "custom-1",
		"30": "info", "50": "error", "9": "9", "": "", `a"b`: "", "\xff": "", "line\nbreak": "",
		"a-level-name-longer-than-32-bytes-x": "",
	}
	for in, want := range cases {
		if got := LevelValue([]byte(in)); got != want {
			t.Errorf("LevelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestZone(t *testing.T) {
	for name, want := range map[string]int{"Z": 0, "UTC": 0, "+08:00": 8 * 3600, "-03:30": -(3*3600 + 1800)} {
		loc := Zone([]byte(name))
		if loc == nil {
			t.Errorf("Zone(%q) = nil", name)
			continue
		}
		if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); off != want {
			t.Errorf("Zone(%q) is %d s east, want %d", name, off, want)
		}
	}
	if loc := Zone([]byte("Asia/Shanghai")); loc == nil || loc.String() != "Asia/Shanghai" {
		t.Errorf("Zone(Asia/Shanghai) = %v", loc)
	}
	for _, name := range []string{"", "Local", "+25:00", "+08", "Mars/Olympus", "../../etc/passwd"} {
		if loc := Zone([]byte(name)); loc != nil {
			t.Errorf("Zone(%q) = %v, want nil", name, loc)
		}
	}
}

// A job's layout and its lines are both untrusted: whatever they are,
// NewLayout, Parse and Prefix return without crashing, a layout NewLayout
// takes reads back the reference time, and a time read lies within a year
// and a day of the read time when the layout has no year.
func FuzzLayout(f *testing.F) {
	for _, s := range [][2]string{
		{"2006-01-02 15:04:05.000", "2025-12-03 10:00:00.250 INFO x"},
		{"Jan _2 15:04:05", "Dec  3 10:00:00 host x"},
		{"02/Jan/2006:15:04:05 -0700", "03/Dec/2025:10:00:00 +0100"},
		{"2006-01-02 15:04:05.999 MST", "2025-12-03 10:00:00.5 CET x"},
		{"UNIX", "1764756000.5"},
		{"UNIX_MS", "1764756000123"},
		{"RFC3339", "2025-12-03T10:00:00+08:00"},
		{"Monday, 02-Jan-06 15:04", "Wednesday, 03-Dec-25 10:00"},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	read := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, layout string, line []byte) {
		l, err := NewLayout(layout)
		if err != nil {
			return
		}
		for _, got := range []func() (time.Time, bool){
			func() (time.Time, bool) { return l.Parse(line, read, nil) },
			func() (time.Time, bool) { return l.Prefix(line, read, nil) },
		} {
			tm, ok := got()
			if ok && l.noYear && (tm.After(read.Add(25*time.Hour)) || tm.Before(read.AddDate(-1, 0, -2))) {
				t.Errorf("layout %q without a year read %q as %v, not within a year before %v", layout, line, tm, read)
			}
		}
	})
}
