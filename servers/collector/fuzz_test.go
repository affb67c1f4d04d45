package collector

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"brun/base/testkit"
	"brun/servers/event"
	"brun/servers/job"
)

// The agent reads any file a job names, and whoever writes the file
// controls its bytes. These targets check that no content crashes or
// wedges the line reader, the decoders or multiline, and that what they
// return is the file: every byte in exactly one line, at its offset, in
// order, however the file arrives. `make fuzz` runs them; `go test` runs
// their seeds.

// fuzzLogs returns seed contents: the real log samples, byte for byte
// (CRLF, no final newline, invalid UTF-8), the large one in pieces so the
// fuzzer's inputs stay small, and a few UTF-16 texts.
func fuzzLogs(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, name := range []string{"realworld.initial", "realworld.append", "logfile_vdsm.0", "logfile_invalid_utf8.0"} {
		data := testkit.RealLog(f, name)
		for len(data) > 0 {
			n := min(len(data), 4096)
			seeds = append(seeds, data[:n])
			data = data[n:]
			if len(seeds)%4 == 0 && len(data) > 64<<10 {
				data = data[32<<10:] // a spread of the large sample, not all of it
			}
		}
	}
	utf16le := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	return append(seeds,
		utf16le("\ufeffline one\r\nline two\n\u010a is not a newline\nlast"),
		append([]byte{0xfe, 0xff, 0, 'a', 0, '\r', 0, '\n', 0x01, 0x0a, 0, 'b', 0, '\n'}, 0),
		[]byte("\xef\xbb\xbfbom\r\n\r\n\n\r\rno newline at the end\r"),
		[]byte(strings.Repeat("x", 300)+"\n"+strings.Repeat("y", 17)+"\r\n"),
	)
}

// newlines are the line endings the reader is built with: one byte for
// UTF-8 and the other byte encodings, two for UTF-16.
var newlines = []struct{ name, nl, cr string }{
	{"utf-8", "\n", "\r"},
	{"utf-16le", "\n\x00", "\r\x00"},
	{"utf-16be", "\x00\n", "\x00\r"},
}

// growing is a file being written: it returns its data up to limit, then
// io.EOF until limit moves on.
type growing struct {
	data       []byte
	pos, limit int
}

func (g *growing) Read(p []byte) (int, error) {
	if g.pos >= g.limit {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.pos:g.limit])
	g.pos += n
	return n, nil
}

// wantLine is a line as the file holds it: where it starts and ends
// (newline included) and its content without the newline.
type wantLine struct {
	start, end int64
	content    []byte
}

// splitLines is the reference: the file cut after each newline code unit,
// code units counted from offset 0, and what follows the last newline.
func splitLines(data, nl []byte, offset int64) (lines []wantLine, rest []byte) {
	n, start := len(nl), 0
	for i := 0; i+n <= len(data); i += n {
		if bytes.Equal(data[i:i+n], nl) {
			lines = append(lines, wantLine{offset + int64(start), offset + int64(i+n), data[start:i]})
			start = i + n
		}
	}
	return lines, data[start:]
}

// drain reads lines until the reader has no complete line left.
func drain(t *testing.T, lr *lineReader) []line {
	t.Helper()
	var out []line
	for i := 0; ; i++ {
		l, err := lr.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		l.Text = bytes.Clone(l.Text)
		out = append(out, l)
	}
}

// checkLine compares a line with the reference: offsets exact, text the
// content less a final carriage return, cut to maxLine (rounded down to
// whole code units) and flagged when longer.
func checkLine(t *testing.T, how string, i int, got line, want wantLine, maxLine int, nl, cr []byte) {
	t.Helper()
	text := bytes.TrimSuffix(want.content, cr)
	trunc := len(text) > maxLine
	if trunc {
		text = want.content[:maxLine-maxLine%len(nl)]
	}
	if got.Start != want.start || got.End != want.end || got.Truncated != trunc || !bytes.Equal(got.Text, text) {
		t.Fatalf("%s: line %d is [%d, %d) truncated %v %q; the file has [%d, %d) %q, so want truncated %v %q (maxLine %d)",
			how, i, got.Start, got.End, got.Truncated, got.Text, want.start, want.end, want.content, trunc, text, maxLine)
	}
	if len(got.Text) > maxLine {
		t.Fatalf("%s: line %d has %d bytes, over maxLine %d", how, i, len(got.Text), maxLine)
	}
}

// FuzzLineReader reads any content with any buffer size and maxLine, and
// with one-byte and two-byte newlines, and checks the lines against the
// reference split: every byte of the content is in exactly one line, the
// offsets run from the start offset to the end, each text is the line's
// content (cut and flagged when over maxLine), the concatenation of the
// lines with their newlines is the content when no line was cut, and the
// same lines come whether the file is read whole, a byte at a time, or
// while it is being written (split at any point). After reset the reader
// reads a new file like a new reader, whatever it held.
func FuzzLineReader(f *testing.F) {
	for i, s := range fuzzLogs(f) {
		f.Add(s, uint16(1+i*37%300), uint16(1+i*53%200), uint16(i*101), uint8(i%3))
	}
	f.Add([]byte("abcdef"), uint16(4), uint16(3), uint16(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, bufSize, maxLine, split uint16, kind uint8) {
		nl := newlines[int(kind)%len(newlines)]
		nlb, crb := []byte(nl.nl), []byte(nl.cr)
		// Buffers from one code unit up (64 KiB in the agent), and the
		// whole range max_line_bytes allows at its small end.
		bs := len(nlb) * max(1, int(bufSize)%512)
		ml := int(maxLine) % 1024
		if ml == 0 {
			ml = 1024
		}
		const offset = 1000
		want, rest := splitLines(data, nlb, offset)
		if len(rest) > 0 {
			want = append(want, wantLine{offset + int64(len(data)-len(rest)), offset + int64(len(data)), rest})
		}

		read := func(how string, src io.Reader) []line {
			lr := newLineReader(src, offset, bs, ml, nlb, crb)
			got := drain(t, lr)
			if lr.readOffset() != offset+int64(len(data)) {
				t.Fatalf("%s: readOffset %d after the whole file, want %d", how, lr.readOffset(), offset+len(data))
			}
			if lr.pending() != (len(rest) > 0) {
				t.Fatalf("%s: pending %v with %q after the last newline", how, lr.pending(), rest)
			}
			if l, ok := lr.rest(); ok {
				got = append(got, l)
			}
			if l, ok := lr.rest(); ok || lr.pending() {
				t.Fatalf("%s: rest returned %+v twice", how, l)
			}
			return got
		}
		check := func(how string, got []line) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %d lines, the file has %d (buffer %d, maxLine %d, %s)", how, len(got), len(want), bs, ml, nl.name)
			}
			var whole []byte
			cut := false
			for i, l := range got {
				checkLine(t, how, i, l, want[i], ml, nlb, crb)
				whole = append(whole, l.Text...)
				raw := data[l.Start-offset : l.End-offset]
				whole = append(whole, raw[len(l.Text):]...) // the newline, and a carriage return before it
				cut = cut || l.Truncated
			}
			if !cut && !bytes.Equal(whole, data) {
				t.Fatalf("%s: the lines do not make up the file", how)
			}
		}
		check("whole", read("whole", bytes.NewReader(data)))
		check("one byte at a time", read("one byte at a time", iotest.OneByteReader(bytes.NewReader(data))))

		// Written while read: up to split, then the rest.
		g := &growing{data: data, limit: int(split) % (len(data) + 1)}
		lr := newLineReader(g, offset, bs, ml, nlb, crb)
		got := drain(t, lr)
		g.limit = len(data)
		got = append(got, drain(t, lr)...)
		if l, ok := lr.rest(); ok {
			got = append(got, l)
		}
		check("while written", got)

		// Truncated and written again: a reset drops whatever was held
		// (a partial or an overlong line) and reads like a new reader.
		old := &growing{data: append(bytes.Repeat([]byte("z"), 2*bs+ml), data[:int(split)%(len(data)+1)]...)}
		old.limit = len(old.data)
		lr = newLineReader(old, 0, bs, ml, nlb, crb)
		drain(t, lr)
		lr.reset(bytes.NewReader(data), offset)
		got = drain(t, lr)
		if l, ok := lr.rest(); ok {
			got = append(got, l)
		}
		check("after reset", got)
	})
}

// codecs lists every encoding a job may name.
var codecs = job.Encodings

// FuzzDecode decodes any line in every encoding: the result is UTF-8
// (for UTF-8 itself the line as it is, less a byte-order mark at the start
// of the file), at most three bytes for each byte read, the same from a
// decoder that decoded other lines before, and ASCII text stays as it is
// in every encoding that contains ASCII. The record the agent makes of it
// is valid JSON.
func FuzzDecode(f *testing.F) {
	for i, s := range fuzzLogs(f) {
		line, _, _ := bytes.Cut(s, []byte("\n"))
		f.Add(line, uint8(i), i%2 == 0)
	}
	for i, s := range [][]byte{{0xc4, 0xe3, 0xba, 0xc3}, {'c', 'a', 'f', 0xe9}, {0xff, 0xfe, 'h', 0, 'i', 0}, {0xfe, 0xff, 0, 'h', 0, 'i'},
		[]byte("\xef\xbb\xbfplain"), {0x81, 0x30, 0x81, 0x30}, {0xd8, 0x00}, {0x82, 0xa0, 0x5c, 0x7e}} {
		f.Add(s, uint8(i), true)
	}
	enc := event.NewEncoder(event.Source{Host: "h", AgentID: "a", Job: "j", Path: "/p", FileID: "1:2:0", JSON: true})
	read := time.Date(2026, 11, 25, 4, 5, 6, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text []byte, which uint8, atStart bool) {
		name := codecs[int(which)%len(codecs)]
		c := codecFor(name)
		orig := bytes.Clone(text)
		fresh := c.decoder()
		got := bytes.Clone(fresh.decode(text, atStart))
		if !bytes.Equal(text, orig) {
			t.Fatalf("%s: decode changed its input", name)
		}
		body := text
		if atStart {
			body = bytes.TrimPrefix(text, c.bom)
		}
		if c.enc == nil {
			if !bytes.Equal(got, body) {
				t.Fatalf("utf-8: %q decoded as %q", text, got)
			}
		} else {
			if !utf8.Valid(got) {
				t.Fatalf("%s: %q decoded as invalid UTF-8 %q", name, text, got)
			}
			if len(got) > 3*len(body) {
				t.Fatalf("%s: %d bytes decoded as %d", name, len(body), len(got))
			}
			if c.bom == nil && isASCII(body) && !bytes.Equal(got, body) {
				t.Fatalf("%s: ASCII %q decoded as %q", name, body, got)
			}
		}
		used := c.decoder()
		used.decode([]byte("\x81\xff\xfe\xd8\x00 other line"), false)
		if again := used.decode(text, atStart); !bytes.Equal(again, got) {
			t.Fatalf("%s: %q decoded as %q, and as %q after another line", name, text, got, again)
		}
		if rec := enc.Encode(got, 0, read, event.Truncated); !json.Valid(rec) {
			t.Fatalf("%s: the record of %q is not JSON: %q", name, got, rec)
		}
	})
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzMultiline joins any lines with any pattern and limits: no line is
// lost, added or reordered, offsets run on from event to event, an event
// holds at most max_lines lines and, when it holds more than one, at most
// max_line_bytes; it is flagged multiline when it joins lines and
// truncated when one of its lines was. Lines join exactly as the pattern
// says (a continuation line joins, any other starts an event, "before"
// the other way round), except where a limit ended an event.
func FuzzMultiline(f *testing.F) {
	seeds := fuzzLogs(f)
	for i, p := range []struct {
		pattern       string
		negate, after bool
	}{
		{`^\s`, false, true}, {`^\d{2}:\d{2}:\d{2}`, true, true}, {`^\d{4}-\d{2}-\d{2}`, true, true},
		{`\\$`, false, false}, {`^(File |    )`, false, true}, {`^$`, false, false},
	} {
		for j := i; j < len(seeds); j += 6 {
			f.Add(seeds[j], p.pattern, p.negate, p.after, uint16(1+j%50), uint16(40+j*13%4000), uint8(j))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, pattern string, negate, after bool, maxLines, maxBytes uint16, truncMask uint8) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return // job.Validate refuses the job
		}
		spec := job.Multiline{Pattern: pattern, Negate: negate, Match: "before", MaxLines: int(maxLines % 600)}
		if after {
			spec.Match = "after"
		}
		limit := 1 + int(maxBytes)
		m := newMultiline(&spec, limit)

		// The lines as the reader gives them: at most limit bytes.
		var in []chunk
		off := int64(0)
		for i, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			c := chunk{Text: bytes.TrimSuffix(l, []byte("\n")), Start: off, End: off + int64(len(l))}
			if len(c.Text) > limit {
				c.Text, c.Flags = c.Text[:limit], event.Truncated
			}
			if truncMask&(1<<(i%8)) != 0 && i%3 == 0 {
				c.Flags = event.Truncated
			}
			in = append(in, c)
			off = c.End
		}
		var out []chunk
		emit := func(c chunk) bool {
			c.Text = bytes.Clone(c.Text)
			out = append(out, c)
			return true
		}
		now := time.Unix(0, 0)
		for _, c := range in {
			if !m.add(c, now, emit) {
				t.Fatal("add stopped though emit never did")
			}
		}
		if !m.flush(emit) {
			t.Fatal("flush stopped though emit never did")
		}
		if m.due(now.Add(time.Hour)) {
			t.Fatal("due after a flush")
		}

		cont := func(c chunk) bool { return re.Match(c.Text) != negate }
		next := 0
		for k, ev := range out {
			first := next
			for next < len(in) && in[next].End <= ev.End {
				next++
			}
			lines := in[first:next]
			if len(lines) == 0 || ev.Start != lines[0].Start || ev.End != lines[len(lines)-1].End {
				t.Fatalf("event %d [%d, %d) does not cover whole lines from %d", k, ev.Start, ev.End, first)
			}
			var texts [][]byte
			var flags event.Flags
			for _, l := range lines {
				texts = append(texts, l.Text)
				flags |= l.Flags
			}
			if len(lines) > 1 {
				flags |= event.Multiline
			}
			if want := bytes.Join(texts, []byte("\n")); !bytes.Equal(ev.Text, want) {
				t.Fatalf("event %d is %q, its lines are %q", k, ev.Text, want)
			}
			if ev.Flags != flags {
				t.Fatalf("event %d of %d lines has flags %b, want %b", k, len(lines), ev.Flags, flags)
			}
			if len(lines) > spec.Lines() || (len(lines) > 1 && len(ev.Text) > limit) {
				t.Fatalf("event %d: %d lines, %d bytes; limits %d lines, %d bytes", k, len(lines), len(ev.Text), spec.Lines(), limit)
			}
			// Inside an event every line is where the pattern puts it.
			for j := 1; j < len(lines); j++ {
				if after && !cont(lines[j]) {
					t.Fatalf("event %d: line %q does not continue, yet joins the one before", k, lines[j].Text)
				}
				if !after && !cont(lines[j-1]) {
					t.Fatalf("event %d: line %q does not continue, yet the next joins it", k, lines[j-1].Text)
				}
			}
			// Between events, only a limit splits lines the pattern joins.
			if next < len(in) {
				nextLine := in[next]
				joins := (after && cont(nextLine)) || (!after && cont(lines[len(lines)-1]))
				full := len(lines) >= spec.Lines() || len(ev.Text)+1+len(nextLine.Text) > limit
				if joins && !full {
					t.Fatalf("event %d ends before %q, which joins it, with no limit reached (%d lines, %d bytes)", k, nextLine.Text, len(lines), len(ev.Text))
				}
			}
		}
		if next != len(in) {
			t.Fatalf("%d lines in, %d in events", len(in), next)
		}
	})
}
