package enrich

import (
	"testing"
	"time"
)

var read = time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)

func TestTimeAndLevel(t *testing.T) {
	cases := []struct {
		name  string
		line  string
		want  string // RFC 3339 in UTC; "" when no time is found
		level string
	}{
		{"rfc3339 utc", "2026-11-25T04:05:06Z INFO started", "2026-11-25T04:05:06Z", "info"},
		{"rfc3339 nano zone", "2026-11-25T04:05:06.123456789+08:00 WARN slow", "2026-11-24T20:05:06.123456789Z", "warn"},
		{"rfc3339 compact zone", "2026-11-25T04:05:06.5-0130 x", "2026-11-25T05:35:06.5Z", ""},
		{"log4j comma", "2026-11-25 04:05:06,789 INFO [main] request handled", "2026-11-25T04:05:06.789Z", "info"},
		{"logback thread first", "2026-11-25 04:05:06.789 [main] ERROR c.x.Y - boom", "2026-11-25T04:05:06.789Z", "error"},
		{"python", "2026-11-25 04:05:06,789 - app.db - WARNING - retry", "2026-11-25T04:05:06.789Z", "warning"},
		{"bracketed iso", "[2026-11-25 04:05:06] local.DEBUG: x", "2026-11-25T04:05:06Z", ""},
		{"syslog", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass", "2025-06-14T15:16:01Z", ""},
		{"syslog padded day", "Jan  2 15:04:05 host cron[1]: ok", "2026-01-02T15:04:05Z", ""},
		{"syslog december read in january", "Dec 31 23:59:59 host x", "2025-12-31T23:59:59Z", ""},
		{"apache error", "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", "2005-12-04T04:47:44Z", "notice"},
		{"apache 2.4 fraction", "[Sun Dec 04 04:47:44.123456 2005] [core:error] x", "2005-12-04T04:47:44.123456Z", "error"},
		{"common log format", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`, "2000-10-10T20:55:36Z", ""},
		{"logfmt level", `time=x level=error msg="db down"`, "", "error"},
		{"level first, no time", "ERROR something broke", "", "error"},
		{"prose is not a level", "2026-11-25 04:05:06 the Error was fixed", "2026-11-25T04:05:06Z", ""},
		{"plain text", "hello world", "", ""},
		{"bad month", "2026-13-25 04:05:06 INFO x", "", ""},
		{"truncated", "2026-11-25 04:0", "", ""},
		{"plus without offset", "2026-11-25T04:05:06+zz INFO", "", ""},
		{"empty", "", "", ""},
		{"host first", "web-01 2026-11-25T04:05:06Z ERROR db down", "2026-11-25T04:05:06Z", "error"},
		{"file name before the time", "/var/log/app-2026-01-02 09:00:00.log 2025-12-03 10:00:00 INFO x", "2025-12-03T10:00:00Z", "info"},
		{"only a time in a file name", "reading /var/log/app-2025-01-02 09:00:00.log", "2025-01-02T09:00:00Z", ""},
		{"sequence number first", "42\t2015-07-29 17:41:44,747 - INFO  [main] - x", "2015-07-29T17:41:44.747Z", "info"},
		{"go log", "2025/12/04 04:47:44.123456 listening", "2025-12-04T04:47:44.123456Z", ""},
		{"nginx error", "2025/12/04 04:47:44 [error] 123#0: open() failed", "2025-12-04T04:47:44Z", "error"},
		{"klog", "I1203 07:31:37.123456    1 server.go:42] started", "2025-12-03T07:31:37.123456Z", "info"},
		{"klog warning", "W0102 07:31:37.1 1 x.go:1] slow", "2026-01-02T07:31:37.1Z", "warn"},
		{"rfc 5424", "<34>1 2025-10-11T22:14:15.003Z host su - ID47 - failed", "2025-10-11T22:14:15.003Z", "crit"},
		{"hdfs compact", "081109 203615 148 INFO dfs.DataNode: x", "2008-11-09T20:36:15Z", "info"},
		{"spark short year", "17/06/09 20:10:40 INFO executor.Executor: x", "2017-06-09T20:10:40Z", "info"},
		{"logcat", "03-17 16:13:38.811  1702  2395 D WindowManager: x", "2025-03-17T16:13:38.811Z", "debug"},
		{"logcat verbose", "12-31 23:59:59.000  1  2 V Tag: x", "2025-12-31T23:59:59Z", "trace"},
		{"epoch seconds", "1767434400 host started", "2026-01-03T10:00:00Z", ""},
		{"epoch millis fraction", "1767434400123.5 Info ok", "2026-01-03T10:00:00.1235Z", "info"},
		{"epoch too far", "1000000000 x", "", ""},
		{"capitalized after time", "2026-11-25 04:05:06 Warning: disk", "2026-11-25T04:05:06Z", "warning"},
		{"bracketed capitalized", "2026-11-25 04:05:06 [main] [Error] x", "2026-11-25T04:05:06Z", "error"},
		{"json level", `{"time":"x","level":"info","msg":"m"}`, "", "info"},
		{"clf after host", `10.0.0.1 - - [04/Dec/2025:04:47:44 +0800] "GET / HTTP/1.1" 200`, "2025-12-03T20:47:44Z", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, end, ok := Time([]byte(c.line), read, nil)
			got := ""
			if ok {
				got = ts.UTC().Format(time.RFC3339Nano)
			}
			if got != c.want {
				t.Fatalf("Time(%q) = %q, want %q", c.line, got, c.want)
			}
			if !ok {
				end = 0
			}
			if lv := Level([]byte(c.line), end); lv != c.level {
				t.Fatalf("Level(%q) = %q, want %q", c.line, lv, c.level)
			}
		})
	}
}

func TestNoAllocations(t *testing.T) {
	lines := [][]byte{
		[]byte("2026-11-25 04:05:06,789 INFO [main] request handled seq=000042"),
		[]byte("2026-11-25T04:05:06.123+08:00 WARN slow"),
		[]byte("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok"),
		[]byte("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass"),
	}
	for _, l := range lines {
		if n := testing.AllocsPerRun(100, func() {
			_, end, _ := Time(l, read, nil)
			Level(l, end)
		}); n != 0 {
			t.Errorf("%q: %v allocations per line, want 0", l, n)
		}
	}
}

func BenchmarkEnrichLog4j(b *testing.B) {
	line := []byte("2026-11-25 04:05:06,789 INFO [main] request handled seq=000042")
	b.ReportAllocs()
	for b.Loop() {
		_, end, _ := Time(line, read, nil)
		Level(line, end)
	}
}

func BenchmarkEnrichNoTime(b *testing.B) {
	line := []byte(`127.0.0.1 - - "GET /index.html HTTP/1.1" 200 512 "-" "curl/8.0" request took 12ms`)
	b.ReportAllocs()
	for b.Loop() {
		_, end, _ := Time(line, read, nil)
		Level(line, end)
	}
}

// A time written without a zone is a time of the zone given (the writing
// host's, event.timezone); one written with a zone keeps it.
func TestTimeWithoutZoneIsReadInTheGivenZone(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no zoneinfo: ", err)
	}
	read := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC) // 09:00 on Jan 1 in Shanghai
	cases := []struct{ line, want string }{
		{"2015-10-18 18:01:47,978 INFO main started", "2015-10-18T10:01:47.978Z"},
		{"2015-10-18T18:01:47+02:00 INFO with its own zone", "2015-10-18T16:01:47Z"},
		{"2015-10-18T18:01:47Z INFO in UTC", "2015-10-18T18:01:47Z"},
		// No year: the one that puts it nearest before the read time, in
		// the writer's zone: Dec 31 23:30 in Shanghai is last year's.
		{"Dec 31 23:30:00 host sshd[1]: accepted", "2025-12-31T15:30:00Z"},
		{"Jan  1 08:59:00 host cron[2]: ran", "2026-01-01T00:59:00Z"},
		{"[Sun Dec 04 04:47:44 2005] [error] apache without a zone", "2005-12-03T20:47:44Z"},
		{`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200`, "2000-10-10T20:55:36Z"},
	}
	for _, c := range cases {
		ts, _, ok := Time([]byte(c.line), read, shanghai)
		if !ok {
			t.Errorf("Time(%q): no time found", c.line)
			continue
		}
		if got := ts.UTC().Format(time.RFC3339Nano); got != c.want {
			t.Errorf("Time(%q) = %s, want %s", c.line, got, c.want)
		}
	}
	// nil is UTC, as before.
	if ts, _, _ := Time([]byte("2015-10-18 18:01:47 INFO x"), read, nil); ts.UTC().Format(time.RFC3339) != "2015-10-18T18:01:47Z" {
		t.Errorf("without a zone given: %v", ts)
	}
}

// Value takes a string that is one time, never a time inside other text.
func TestValueIsOneTimeOnly(t *testing.T) {
	read := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		s    string
		want string // "" : not a time
	}{
		{"2026-11-24T10:00:00.250Z", "2026-11-24T10:00:00.25Z"},
		{"2026-11-24 18:00:00,250", "2026-11-24T18:00:00.25Z"},
		{"x 2026-11-24T10:00:00Z", ""},
		{"2026-11-24T10:00:00Z trailing", ""},
		{"", ""},
	} {
		ts, ok := Value([]byte(c.s), read, nil)
		switch {
		case c.want == "" && ok:
			t.Errorf("Value(%q) = %v, want none", c.s, ts)
		case c.want != "" && (!ok || ts.UTC().Format(time.RFC3339Nano) != c.want):
			t.Errorf("Value(%q) = %v %v, want %s", c.s, ts, ok, c.want)
		}
	}
}
