package collector

import (
	"os"
	"regexp"
	"time"

	"brun/servers/job"
)

// lineFilter is a job's include_lines and exclude_lines, compiled once
// per job and shared by its harvesters (a Regexp is safe for concurrent
// use). Filebeat's semantics: with include_lines set, only an event one of
// them matches is kept; then an event one of exclude_lines matches is
// dropped. They see the whole event: a multiline event after joining, as
// UTF-8 text after decoding.
type lineFilter struct {
	include, exclude []*regexp.Regexp
}

// newLineFilter returns spec's filter, or nil when it has none. The spec
// was validated: every expression compiles.
func newLineFilter(spec job.Spec) *lineFilter {
	if len(spec.IncludeLines) == 0 && len(spec.ExcludeLines) == 0 {
		return nil
	}
	f := &lineFilter{}
	for _, p := range spec.IncludeLines {
		f.include = append(f.include, regexp.MustCompile(p))
	}
	for _, p := range spec.ExcludeLines {
		f.exclude = append(f.exclude, regexp.MustCompile(p))
	}
	return f
}

// keep reports whether the event whose text is text is sent. A nil
// filter keeps everything.
func (f *lineFilter) keep(text []byte) bool {
	if f == nil {
		return true
	}
	if len(f.include) > 0 && !matchesAny(f.include, text) {
		return false
	}
	return !matchesAny(f.exclude, text)
}

func matchesAny(res []*regexp.Regexp, text []byte) bool {
	for _, re := range res {
		if re.Match(text) {
			return true
		}
	}
	return false
}

// drop passes over an event the filter did not keep. Nothing is sent,
// but its bytes must still count as done, or the saved offset would stop
// before it and a restart would read (and drop) it again; a dropped event
// that is the file's last would hold the offset back for good.
//
// Positions in the ack window are end offsets, so the event is folded
// into the window with Skip instead of being added and acked: with events
// before it in flight, the newest of them now ends at the dropped event's
// end, and its ack (after every earlier one) carries the watermark past
// the dropped bytes; with nothing in flight the watermark moves at once.
// Either way the saved offset reaches the end of a file whose last lines
// were dropped, and a dropped event takes no place in the window, so
// dropping never waits on Kafka.
func (h *harvester) drop(c chunk) {
	h.s.win.Skip(c.End)
	h.counts.dropped.Add(1)
	h.counts.mDropped.Inc()
}

// tooOld reports whether fi was last modified more than maxAge before now
// (ignore_older); maxAge 0 keeps every file.
func tooOld(fi os.FileInfo, maxAge time.Duration, now time.Time) bool {
	return maxAge > 0 && now.Sub(fi.ModTime()) > maxAge
}
