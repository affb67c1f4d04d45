package collector

import (
	"regexp"
	"time"

	"brun/servers/event"
	"brun/servers/job"
)

// chunk is one event cut from a file: a line, or several joined by
// multiline, with the byte range it covers.
type chunk struct {
	Text  []byte
	Start int64 // offset of the first byte
	End   int64 // offset just past the last line's newline
	Flags event.Flags
}

// multiline joins continuation lines into events, Filebeat's way: a line
// for which the pattern matches (inverted by negate) continues an event.
// With match "after" it joins the event before it; with "before" the
// event goes on until the first line that doesn't match, which ends it.
//
// An event is never cut short by dropping lines: at max_lines lines or the
// job's max_line_bytes it is sent, and the next line starts a new one.
type multiline struct {
	re       *regexp.Regexp
	negate   bool
	before   bool
	maxLines int
	maxBytes int
	timeout  time.Duration

	buf   []byte
	lines int
	ev    chunk
	last  time.Time // when the pending event last grew
}

func newMultiline(m *job.Multiline, maxBytes int) *multiline {
	return &multiline{
		re: regexp.MustCompile(m.Pattern), negate: m.Negate, before: m.Match == "before",
		maxLines: m.Lines(), maxBytes: maxBytes, timeout: m.Wait(),
	}
}

// add takes the next line and calls emit for every event it completes
// (zero, one or two). emit returning false stops it and add returns false.
func (m *multiline) add(l chunk, now time.Time, emit func(chunk) bool) bool {
	cont := m.re.Match(l.Text) != m.negate
	if m.before {
		full := m.lines > 0 && (m.lines >= m.maxLines || len(m.buf)+1+len(l.Text) > m.maxBytes)
		if full && !m.flush(emit) {
			return false
		}
		m.append(l, now)
		if !cont {
			return m.flush(emit)
		}
		return true
	}
	if m.lines > 0 && (!cont || m.lines >= m.maxLines || len(m.buf)+1+len(l.Text) > m.maxBytes) {
		if !m.flush(emit) {
			return false
		}
	}
	m.append(l, now)
	return true
}

func (m *multiline) append(l chunk, now time.Time) {
	if m.lines == 0 {
		m.buf = append(m.buf[:0], l.Text...)
		m.ev = chunk{Start: l.Start, Flags: l.Flags}
	} else {
		m.buf = append(m.buf, '\n')
		m.buf = append(m.buf, l.Text...)
		m.ev.Flags |= l.Flags | event.Multiline
	}
	m.ev.End = l.End
	m.lines++
	m.last = now
}

// flush sends the pending event, if any.
func (m *multiline) flush(emit func(chunk) bool) bool {
	if m.lines == 0 {
		return true
	}
	ev := m.ev
	ev.Text = m.buf
	m.lines = 0
	return emit(ev)
}

// due reports whether a pending event has waited longer than the timeout
// for its next line.
func (m *multiline) due(now time.Time) bool {
	return m.lines > 0 && now.Sub(m.last) >= m.timeout
}
