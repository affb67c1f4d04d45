package collector

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"brun/servers/event"
	"brun/servers/job"
)

func runMultiline(m *multiline, lines []string) []string {
	var out []string
	emit := func(c chunk) bool { out = append(out, string(c.Text)); return true }
	off := int64(0)
	for _, l := range lines {
		m.add(chunk{Text: []byte(l), Start: off, End: off + int64(len(l)) + 1}, time.Now(), emit)
		off += int64(len(l)) + 1
	}
	m.flush(emit)
	return out
}

func TestMultiline(t *testing.T) {
	cases := []struct {
		name  string
		spec  job.Multiline
		lines []string
		want  []string
	}{
		{"java stack trace: continuation lines join the one before",
			job.Multiline{Pattern: `^\s`, Match: "after"},
			[]string{"ERROR boom", "\tat a.B(B.java:1)", "\tat c.D(D.java:2)", "INFO ok"},
			[]string{"ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)", "INFO ok"}},
		{"negate: lines not starting with a date continue",
			job.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after"},
			[]string{"", "2026-01-01 a", "x", "y", "2026-01-02 b"},
			[]string{"", "2026-01-01 a\nx\ny", "2026-01-02 b"}},
		{"before: a trailing backslash continues into the next line",
			job.Multiline{Pattern: `\\$`, Match: "before"},
			[]string{`one \`, `two \`, "three", "four"},
			[]string{"one \\\ntwo \\\nthree", "four"}},
		{"max_lines starts a new event instead of dropping lines",
			job.Multiline{Pattern: `^\s`, Match: "after", MaxLines: 2},
			[]string{"a", " 1", " 2", " 3"},
			[]string{"a\n 1", " 2\n 3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runMultiline(newMultiline(&c.spec, 1<<20), c.lines)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestMultilineOffsetsFlagsAndTimeout(t *testing.T) {
	m := newMultiline(&job.Multiline{Pattern: `^\s`, Match: "after", Timeout: "1s"}, 1<<20)
	var got []chunk
	emit := func(c chunk) bool { c.Text = append([]byte(nil), c.Text...); got = append(got, c); return true }
	t0 := time.Now()
	m.add(chunk{Text: []byte("a"), Start: 10, End: 12}, t0, emit)
	m.add(chunk{Text: []byte(" b"), Start: 12, End: 15, Flags: event.Truncated}, t0, emit)
	if m.due(t0.Add(500 * time.Millisecond)) {
		t.Fatal("due before the timeout")
	}
	if !m.due(t0.Add(time.Second)) {
		t.Fatal("not due after the timeout")
	}
	m.flush(emit)
	if len(got) != 1 || got[0].Start != 10 || got[0].End != 15 || got[0].Flags != event.Multiline|event.Truncated {
		t.Fatalf("%+v", got)
	}
}

func TestMultilineByteLimit(t *testing.T) {
	m := newMultiline(&job.Multiline{Pattern: `^\s`, Match: "after"}, 10)
	got := runMultiline(m, []string{"abcdef", " ghij", " k"})
	for _, g := range got {
		if len(g) > 10 {
			t.Fatalf("event of %d bytes over the 10-byte limit: %q", len(g), got)
		}
	}
	if strings.Join(got, "\n") != "abcdef\n ghij\n k" {
		t.Fatalf("lines lost: %q", got)
	}
}

func TestDecoders(t *testing.T) {
	cases := []struct {
		enc  string
		in   []byte
		want string
	}{
		{"gbk", []byte{0xc4, 0xe3, 0xba, 0xc3}, "你好"},
		{"gb18030", []byte{0xc4, 0xe3, 0xba, 0xc3}, "你好"},
		{"latin1", []byte{'c', 'a', 'f', 0xe9}, "café"},
		{"utf-16le", []byte{0xff, 0xfe, 'h', 0, 'i', 0}, "hi"},
		{"utf-16be", []byte{0xfe, 0xff, 0, 'h', 0, 'i'}, "hi"},
		{"utf-8", []byte("\xef\xbb\xbfplain"), "plain"},
	}
	for _, c := range cases {
		d := codecFor(c.enc).decoder()
		if got := string(d.decode(c.in, true)); got != c.want {
			t.Errorf("%s: %q, want %q", c.enc, got, c.want)
		}
	}
}
