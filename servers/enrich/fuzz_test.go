package enrich

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Every plain line the transfer reads is untrusted: Time and Level run on
// each one, on the hot path. These targets check that no line crashes
// them and that what they return is what the line says. `make fuzz` runs
// them; `go test` runs their seeds.

// fuzzLines returns seed lines: a spread of the real log samples (read
// from the files, byte for byte, CRLF and invalid UTF-8 included; this
// package imports nothing of brun, tests included) and one line of each
// format.
func fuzzLines(f *testing.F) [][]byte {
	f.Helper()
	var lines [][]byte
	for _, name := range []string{"realworld.initial", "realworld.append", "logfile_vdsm.0", "logfile_invalid_utf8.0"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "base", "testkit", "testdata", "reallogs", name))
		if err != nil {
			f.Fatal(err)
		}
		all := bytes.SplitAfter(data, []byte("\n"))
		step := max(1, len(all)/40)
		for i := 0; i < len(all); i += step {
			lines = append(lines, all[i])
		}
	}
	for _, l := range []string{
		"2026-11-25T04:05:06Z INFO started",
		"2026-11-25T04:05:06.123456789+08:00 WARN slow",
		"2026-11-25T04:05:06.5-0130 x",
		"2026-11-25 04:05:06,789 INFO [main] request handled",
		"2026-11-25 04:05:06.789 [main] ERROR c.x.Y - boom",
		"2026-11-25 04:05:06,789 - app.db - WARNING - retry",
		"[2026-11-25 04:05:06] local.DEBUG: x",
		"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass",
		"Jan  2 15:04:05 host cron[1]: ok",
		"Dec 31 23:59:60 host leap second",
		"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
		"[Sun Dec 04 04:47:44.123456 2005] [core:error] x",
		`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`,
		`time=x level=error msg="db down"`,
		"9999-12-31T23:59:59-23:59 far",
		"0000-01-01T00:00:00+23:59 early",
		"2026-11-25T04:05:06+zz INFO",
		"/var/log/app-2026-01-02 09:00:00.log 2025-12-03 10:00:00 INFO x",
		"2025/12/04 04:47:44 [error] 1#0: x",
		"I1203 07:31:37.123456    1 server.go:42] started",
		"<34>1 2025-10-11T22:14:15.003Z host su - ID47 - failed",
		"081109 203615 148 INFO dfs.DataNode: x",
		"17/06/09 20:10:40 INFO executor.Executor: x",
		"03-17 16:13:38.811  1702  2395 D WindowManager: x",
		"1767434400123.5 Info ok",
	} {
		lines = append(lines, []byte(l))
	}
	return lines
}

// readTimes are the read times the seeds are tried with: the tests' day,
// a New Year's Eve and a day after a leap day.
var readTimes = []int64{
	time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC).Unix(),
	time.Date(2025, 12, 31, 23, 30, 0, 0, time.UTC).Unix(),
	time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC).Unix(),
}

// FuzzTime checks Time and each format's reader on any line and read
// time: the span reported lies in the line and holds the time returned
// (date, clock and zone written there, read back the same; a leap second
// aside), a syslog time lies in the year before the read time, and Level
// finds a known level word written in the line, or none.
func FuzzTime(f *testing.F) {
	for i, l := range fuzzLines(f) {
		f.Add(l, readTimes[i%len(readTimes)])
	}
	f.Fuzz(func(t *testing.T, line []byte, readSec int64) {
		// A read time from 1970 to 9999, as a transfer's clock gives.
		const span = 253402300800
		read := time.Unix((readSec%span+span)%span, 0).UTC()

		ts, end, ok := Time(line, read, nil)
		if !ok {
			if end != 0 || !ts.IsZero() {
				t.Fatalf("Time(%q) = %v, %d, false", line, ts, end)
			}
		} else if end <= 0 || end > len(line) {
			t.Fatalf("Time(%q) reports %d bytes of %d", line, end, len(line))
		}
		from := 0
		if ok {
			from = end
		}
		if lv := Level(line, from); lv != "" {
			// A word is one written in the line; a letter (klog, logcat)
			// or a syslog priority names one of the levels.
			if levels[lv] != lv || (!bytes.Contains(bytes.ToLower(line), []byte(lv)) && !letterLevel[lv] && !severity[lv]) {
				t.Fatalf("Level(%q, %d) = %q, not a level word of the line", line, from, lv)
			}
		}

		start := 0
		if len(line) > 0 && line[0] == '[' {
			start = 1
		}
		b := line[start:]
		if t0, n, ok := ISO(b); ok {
			checkRead(t, "ISO", b, t0, n, 19, written{num(b[0:4]), num(b[5:7]), num(b[8:10]), num(b[11:13]), num(b[14:16]), num(b[17:19]), frac(b[19:n])})
		}
		if len(b) >= 15 {
			if t0, n, ok := syslog(b, read, time.UTC); ok {
				i := 4
				if b[i] == ' ' {
					i++
				}
				d := digitsAt(b, i)
				c := i + d + 1
				checkRead(t, "syslog", b, t0, n, 14, written{t0.Year(), month(b), num(b[i : i+d]), num(b[c : c+2]), num(b[c+3 : c+5]), num(b[c+6 : c+8]), frac(b[c+8 : n])})
				if t0.After(read.Add(24*time.Hour)) || !t0.After(read.AddDate(-1, 0, -2)) {
					t.Fatalf("syslog(%q) read at %v = %v: not within the year before", b, read, t0)
				}
			}
		}
		if start == 1 && len(b) >= 15 {
			if t0, n, ok := apache(b, time.UTC); ok {
				i := 8
				if b[i] == ' ' {
					i++
				}
				d := digitsAt(b, i)
				c := i + d + 1
				checkRead(t, "apache", b, t0, n, 24, written{num(b[n-5 : n-1]), month(b[4:]), num(b[i : i+d]), num(b[c : c+2]), num(b[c+3 : c+5]), num(b[c+6 : c+8]), frac(b[c+8 : n-6])})
			}
		}
		if t0, n, ok := clf(line); ok {
			c := line[n-27 : n-1]
			checkRead(t, "clf", line, t0, n, 28, written{num(c[7:11]), month(c[3:]), num(c[0:2]), num(c[12:14]), num(c[15:17]), num(c[18:20]), 0})
		}
	})
}

var letterLevel = map[string]bool{"trace": true, "debug": true, "info": true, "warn": true, "error": true, "fatal": true}
var severity = map[string]bool{"emerg": true, "alert": true, "crit": true, "err": true, "warning": true, "notice": true, "info": true, "debug": true}

// written is a time as a line writes it.
type written struct{ year, month, day, hour, minute, sec, nsec int }

// checkRead checks one format reader's answer: it used at least min and
// at most every byte, and its time, in the zone it read, is the one
// written. A second of 60 (a leap second) is read as the next minute, and
// is let be.
func checkRead(t *testing.T, name string, b []byte, got time.Time, n, min int, w written) {
	t.Helper()
	if n < min || n > len(b) {
		t.Fatalf("%s(%q) used %d bytes", name, b, n)
	}
	if w.sec == 60 {
		return
	}
	g := written{got.Year(), int(got.Month()), got.Day(), got.Hour(), got.Minute(), got.Second(), got.Nanosecond()}
	if g != w {
		t.Fatalf("%s(%q) = %v, not the time written (%+v)", name, b, got, w)
	}
}

func num(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

func digitsAt(b []byte, i int) int {
	n := 0
	for i+n < len(b) && n < 2 && isDigit(b[i+n]) {
		n++
	}
	return n
}

// frac reads the nanoseconds of a fraction written as ".123" or ",123"
// at the start of b; 0 without one.
func frac(b []byte) int {
	if len(b) < 2 || (b[0] != '.' && b[0] != ',') || !isDigit(b[1]) {
		return 0
	}
	n, scale := 0, 100000000
	for _, c := range b[1:] {
		if !isDigit(c) {
			break
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n
}

func month(b []byte) int {
	for i, m := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		if string(b[:3]) == m {
			return i + 1
		}
	}
	return 0
}

// clf is the common log format reader of earlier versions, which looked
// for "[10/Oct/2000:13:55:36 -0700]" in the first 128 bytes: kept here as
// a second reader whose answers the fuzz target checks.
func clf(line []byte) (time.Time, int, bool) {
	lim := min(len(line), 128)
	for i := 0; i < lim; i++ {
		if line[i] != '[' {
			continue
		}
		b := line[i+1:]
		if len(b) < 27 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[20] != ' ' || b[26] != ']' {
			continue
		}
		day, ok1 := digits(b[0:2])
		month, ok2 := monthOf(b[3:])
		year, ok3 := digits(b[7:11])
		hour, minute, sec, ok4 := clock(b[12:])
		loc, _, ok5 := zone(b[:26], 21)
		if ok1 && ok2 && ok3 && ok4 && ok5 && loc != nil && valid(month, day, hour, minute, sec) && day <= daysIn(month, year) {
			return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), i + 28, true
		}
	}
	return time.Time{}, 0, false
}
