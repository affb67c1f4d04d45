package enrich

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A sample source and its oracle: a regular expression written for that
// one format, independent of the recognizer, that says what the line's
// time and level are. The samples are real logs (testdata/samples/README.md).
type sampleSource struct {
	file string
	read time.Time // when the lines are taken to be read: a few days after they were written
	// oracle returns the line's time and level ("" for none); ok false
	// means the line has no time.
	oracle func(line string, read time.Time) (t time.Time, ok bool, level string)
	// floors are the least shares (of lines, in percent) of right times
	// and levels; set just under what the recognizer achieves, so that a
	// regression fails.
	timeFloor, levelFloor float64
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// match runs re on line and parses group 1 with layout, taking group 2
// (when the expression has one) as the level in lower case.
func match(re *regexp.Regexp, layout string) func(string, time.Time) (time.Time, bool, string) {
	return func(line string, read time.Time) (time.Time, bool, string) {
		m := re.FindStringSubmatch(line)
		if m == nil {
			return time.Time{}, false, ""
		}
		t, err := time.ParseInLocation(layout, m[1], time.UTC)
		if err != nil {
			return time.Time{}, false, ""
		}
		if t.Year() == 0 { // no year written: the read time's
			t = t.AddDate(read.Year(), 0, 0)
		}
		lv := ""
		if len(m) > 2 {
			lv = strings.ToLower(m[2])
		}
		return t, true, lv
	}
}

var sampleSources = []sampleSource{
	{"hdfs.log", day(2008, 11, 12), match(regexp.MustCompile(`^(\d{6} \d{6}) \d+ ([A-Z]+) `), "060102 150405"), 100, 100},
	{"zookeeper.log", day(2015, 8, 1), match(regexp.MustCompile(`^\d+\t(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - ([A-Z]+) `), "2006-01-02 15:04:05,000"), 100, 100},
	{"openstack.log", day(2017, 5, 17), match(regexp.MustCompile(`^\S+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \d+ ([A-Z]+) `), "2006-01-02 15:04:05.000"), 100, 100},
	{"mac.log", day(2017, 7, 5), match(regexp.MustCompile(`^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) `), "Jan _2 15:04:05"), 100, 100},
	{"proxifier.log", day(2016, 11, 1), match(regexp.MustCompile(`^\d+\t\[(\d\d\.\d\d \d\d:\d\d:\d\d)\] `), "01.02 15:04:05"), 100, 100},
	{"bgl.log", day(2005, 6, 12), func(line string, _ time.Time) (time.Time, bool, string) {
		// "- 1117838570 2005.06.03 node 2005-06-03-15.42.50.675872 node RAS KERNEL INFO msg":
		// the epoch seconds are the event's time (the later, local one has no zone).
		m := regexp.MustCompile(`^\d+\t\S+ (\d{10}) .* RAS \S+ ([A-Z]+) `).FindStringSubmatch(line)
		if m == nil {
			return time.Time{}, false, ""
		}
		var sec int64
		fmt.Sscan(m[1], &sec)
		return time.Unix(sec, 0).UTC(), true, strings.ToLower(m[2])
	}, 100, 0}, // the level is seven words after the time: too far to be told from a message word
}

// TestRecognitionAccuracy measures, per sample source, the share of lines
// whose time and level the recognizer finds as the oracle does, and logs
// the table (go test -run TestRecognitionAccuracy -v).
func TestRecognitionAccuracy(t *testing.T) {
	var table strings.Builder
	table.WriteString("| Source | Lines (not blank) | @timestamp right | log.level right | both |\n|---|---|---|---|---|\n")
	for _, s := range sampleSources {
		data, err := os.ReadFile(filepath.Join("testdata", "samples", s.file))
		if err != nil {
			t.Fatal(err)
		}
		var lines [][]byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 { // blank lines say nothing either way
				lines = append(lines, l)
			}
		}
		var okTime, okLevel, okBoth int
		for _, l := range lines {
			wantT, wantOK, wantLv := s.oracle(string(l), s.read)
			got, end, ok := Time(l, s.read, time.UTC)
			if !ok {
				end = 0
			}
			lv := Level(l, end)
			tRight := ok == wantOK && (!ok || got.Equal(wantT))
			lRight := lv == wantLv
			if tRight {
				okTime++
			}
			if lRight {
				okLevel++
			}
			if tRight && lRight {
				okBoth++
			}
			if testing.Verbose() && !(tRight && lRight) {
				t.Logf("%s: %q: got %v %v %q, want %v %v %q", s.file, l, got, ok, lv, wantT, wantOK, wantLv)
			}
		}
		n := float64(len(lines))
		pt, pl, pb := 100*float64(okTime)/n, 100*float64(okLevel)/n, 100*float64(okBoth)/n
		fmt.Fprintf(&table, "| %s | %d | %.1f%% | %.1f%% | %.1f%% |\n", s.file, len(lines), pt, pl, pb)
		if pt < s.timeFloor || pl < s.levelFloor {
			t.Errorf("%s: %.1f%% times and %.1f%% levels right, below the floors %.0f%% and %.0f%%", s.file, pt, pl, s.timeFloor, s.levelFloor)
		}
	}
	t.Log("\n" + table.String())
}
