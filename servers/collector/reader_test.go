package collector

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"brun/base/testkit"
)

// chunked returns its data a few bytes per Read, like a file being written.
type chunked struct {
	data []byte
	n    int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

func readAll(t *testing.T, lr *lineReader) []line {
	t.Helper()
	var out []line
	for {
		l, err := lr.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		l.Text = append([]byte(nil), l.Text...)
		out = append(out, l)
	}
}

func TestLineReaderSplitsAndTracksOffsets(t *testing.T) {
	data := "one\r\ntwo\n\nthree-is-longer-than-the-buffer\nfour"
	for _, bufSize := range []int{4, 7, 64} {
		for _, chunk := range []int{1, 3, 100} {
			lr := newLineReader(&chunked{data: []byte(data), n: chunk}, 100, bufSize, 1<<20, []byte("\n"), []byte("\r"))
			got := readAll(t, lr)
			want := []string{"one", "two", "", "three-is-longer-than-the-buffer"}
			if len(got) != len(want) {
				t.Fatalf("buf %d chunk %d: %d lines, want %d", bufSize, chunk, len(got), len(want))
			}
			off := int64(100)
			for i, l := range got {
				if string(l.Text) != want[i] || l.Start != off || l.Truncated {
					t.Fatalf("buf %d chunk %d line %d: %+v (text %q), want %q at %d", bufSize, chunk, i, l, l.Text, want[i], off)
				}
				off = l.End
			}
			// "four" has no newline yet: it waits.
			if !lr.pending() {
				t.Fatal("partial last line is not pending")
			}
			l, ok := lr.rest()
			if !ok || string(l.Text) != "four" || l.Start != off || l.End != 100+int64(len(data)) {
				t.Fatalf("rest = %+v %q", l, l.Text)
			}
		}
	}
}

func TestLineReaderCompletesPartialLine(t *testing.T) {
	src := &chunked{data: []byte("abc"), n: 100}
	lr := newLineReader(src, 0, 16, 1<<20, []byte("\n"), []byte("\r"))
	if got := readAll(t, lr); len(got) != 0 {
		t.Fatalf("partial line returned: %+v", got)
	}
	src.data = []byte("def\n")
	got := readAll(t, lr)
	if len(got) != 1 || string(got[0].Text) != "abcdef" || got[0].Start != 0 || got[0].End != 7 {
		t.Fatalf("got %+v", got)
	}
}

func TestLineReaderCutsLongLinesAndKeepsTheRest(t *testing.T) {
	long := strings.Repeat("x", 100)
	data := "a\n" + long + "\nb\n"
	lr := newLineReader(&chunked{data: []byte(data), n: 7}, 0, 8, 10, []byte("\n"), []byte("\r"))
	got := readAll(t, lr)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3", len(got))
	}
	if string(got[1].Text) != long[:10] || !got[1].Truncated || got[1].End != int64(2+len(long)+1) {
		t.Fatalf("long line: %+v %q", got[1], got[1].Text)
	}
	if string(got[2].Text) != "b" || got[2].Truncated || got[2].Start != got[1].End {
		t.Fatalf("line after long line: %+v", got[2])
	}
}

// The real JBoss log, read with a small buffer, gives back every line
// byte-exact (less the line ending) and offsets that cover the file.
func TestLineReaderRealLogs(t *testing.T) {
	for _, name := range []string{"realworld.initial", "realworld.append", "logfile_invalid_utf8.0", "logfile_vdsm.0"} {
		data := testkit.RealLog(t, name)
		lr := newLineReader(&chunked{data: data, n: 997}, 0, 4096, 1<<20, []byte("\n"), []byte("\r"))
		got := readAll(t, lr)
		if l, ok := lr.rest(); ok {
			got = append(got, l)
		}
		var rebuilt []byte
		for _, l := range got {
			raw := data[l.Start:l.End]
			rebuilt = append(rebuilt, raw...)
			if !bytes.Equal(bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r")), l.Text) {
				t.Fatalf("%s: line at %d differs from the file", name, l.Start)
			}
		}
		if !bytes.Equal(rebuilt, data) {
			t.Fatalf("%s: lines do not cover the file", name)
		}
	}
}

func TestLineReaderUTF16(t *testing.T) {
	// "a\r\n" then "\u010a" (whose low byte is 0x0a) then "b\n", UTF-16LE.
	data := []byte{'a', 0, '\r', 0, '\n', 0, 0x0a, 0x01, '\n', 0, 'b', 0, '\n', 0}
	lr := newLineReader(&chunked{data: data, n: 3}, 0, 4, 1<<20, []byte("\n\x00"), []byte("\r\x00"))
	got := readAll(t, lr)
	if len(got) != 3 || string(got[0].Text) != "a\x00" || !bytes.Equal(got[1].Text, []byte{0x0a, 0x01}) || got[2].Start != 10 || got[2].End != 14 {
		t.Fatalf("got %+v", got)
	}
}
