package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"brun/base/metrics"
	"brun/servers/ack"
	"brun/servers/event"
	"brun/servers/job"
	"brun/servers/status"
)

const (
	// pollInterval is how often a harvester at the end of its file looks
	// for new data, truncation and rotation while the file is being
	// written; a file quiet for longer is looked at less often, a quarter
	// of its quiet time, up to maxPollInterval (Filebeat's backoff, in
	// short): a thousand quiet files cost little CPU, and a line written
	// after a long quiet waits at most maxPollInterval.
	pollInterval    = 250 * time.Millisecond
	maxPollInterval = 4 * time.Second
	// drainGrace is how long a rotated-away or deleted file must stay
	// without new data before its harvester lets go: a writer may still be
	// appending to it through an open descriptor for a moment.
	drainGrace = time.Second
	// closeInactive is how long a file found by a glob may stay unchanged
	// before its harvester closes it (a later scan opens it again if it
	// grows). The file a plain path names is never closed for that.
	closeInactive = 5 * time.Minute
	// readBufSize is each harvester's buffer.
	readBufSize = 64 << 10
	// maxUnackedPerFile bounds the events of one file sent and not yet
	// acknowledged by Kafka; a harvester at the bound waits.
	maxUnackedPerFile = 8 << 10
)

// harvester reads one file (one device and inode) from its saved offset,
// through truncations, until the file is rotated away and drained, or ctx
// ends. Errors are logged with the path; they never stop the job.
//
// It gets what it uses and nothing it could reach through: the file's
// cursor in the registry, and from its job the harvestConfig (spec,
// output, counters, agent.allow, logger). Its job reads its status from
// what it publishes (view, size).
type harvester struct {
	harvestConfig
	cur     *cursor
	path    string
	f       *os.File
	primary bool // the job's plain path, not a glob match

	s    *stream
	enc  *event.Encoder
	dec  *decoder
	ml   *multiline
	size atomic.Int64 // last seen size, for status

	// view is what status reads: the file's current reading, replaced
	// whole when the harvester starts a new one (truncation). Nothing else
	// of the harvester is read from other goroutines.
	view atomic.Pointer[fileView]

	// fp is the hash of the file's first fpLen bytes: before each read the
	// harvester checks them, so a file truncated and written again past the
	// read offset is noticed before a byte of the new content is misread.
	fp    uint64
	fpLen int
}

// fileView is one reading of the file as status shows it: the path and
// the ack window whose watermark is the saved offset. The window is safe
// to read from any goroutine.
type fileView struct {
	path string
	win  *ack.Window
}

// harvestConfig is what a job gives every harvester of its files.
type harvestConfig struct {
	spec   job.Spec    // topic, line limit, multiline, fields, json, exclude
	codec  codec       // the spec's encoding
	filter *lineFilter // the spec's include_lines and exclude_lines; nil: none
	pins   *pins       // the spec's timestamp, level and message; nil: none
	src    origin
	out    output
	counts *jobCounters
	// allow returns agent.allow as it is now: a rotated copy is held to
	// it when it is opened, as the job's own files are.
	allow func() []string
	log   *logrus.Entry // with the job's fields
}

// origin is who sends a harvester's events, as each event names it: the
// host (host.*, agent.name and agent.version, event.timezone), agent.id
// and the job.
type origin struct {
	host    host
	agentID string
	job     string
}

// newHarvester returns the harvester of the open file f, found at path,
// whose saved offset is held by cur. primary is true for the file a
// job's plain path names (never closed for being quiet).
func newHarvester(hc harvestConfig, cur *cursor, path string, f *os.File, primary bool) *harvester {
	return &harvester{harvestConfig: hc, cur: cur, path: path, f: f, primary: primary}
}

// errReplaced means the file's first bytes changed under the reader.
var errReplaced = errors.New("the file's first bytes changed")

// checkedReader reads the harvester's file after checking its fingerprint.
type checkedReader struct{ h *harvester }

func (c checkedReader) Read(p []byte) (int, error) {
	h := c.h
	if h.fpLen > 0 {
		if got, ok := fingerprint(h.f, h.fpLen); !ok || got != h.fp {
			return 0, errReplaced
		}
	}
	if h.fpLen < fingerprintBytes {
		// Take the full fingerprint as soon as the file is long enough: it is
		// what recognises the file's rotated copy after a truncation.
		if fp, ok := fingerprint(h.f, fingerprintBytes); ok {
			h.fp, h.fpLen = fp, fingerprintBytes
			h.cur.setFingerprint(fp, fingerprintBytes)
		}
	}
	n, err := h.f.Read(p)
	if n > 0 {
		// Status shows how far behind the file the reader is: keep the
		// size current while it reads (one fstat per buffer).
		if fi, err := h.f.Stat(); err == nil {
			h.size.Store(fi.Size())
		}
	}
	return n, err
}

func (h *harvester) run(ctx context.Context) {
	if err := h.follow(ctx); err != nil && ctx.Err() == nil {
		h.log.Errorf("read %s: %v; it is opened again at the next scan", h.path, err)
	}
}

func (h *harvester) follow(ctx context.Context) error {
	fi, err := h.f.Stat()
	if err != nil {
		return err
	}
	h.size.Store(fi.Size())
	if h.cur.claim(h.f, fi.Size()) {
		h.log.Warnf("%s is not the file its saved offset belongs to (truncated or replaced while not read); reading it from the start", h.path)
	}
	pos := h.cur.position()
	h.newStream()
	if _, err := h.f.Seek(pos.Offset, io.SeekStart); err != nil {
		return err
	}
	h.log.WithField("offset", pos.Offset).Infof("reading %s", h.path)
	if h.spec.Multiline != nil {
		h.ml = newMultiline(h.spec.Multiline, h.spec.LineLimit())
	}
	h.dec = h.codec.decoder()
	lr := newLineReader(checkedReader{h}, pos.Offset, readBufSize, h.spec.LineLimit(), h.codec.nl, h.codec.cr)
	lastData, lastRead := time.Now(), pos.Offset
	var rotatedAt time.Time
	// unchanged is the file's stat taken after a poll's sleep when it
	// showed the same size and modification time as before the sleep:
	// nothing was written, so the file is not read (a read at its end
	// costs a fingerprint check and a read) and unchanged serves as this
	// round's stat.
	var unchanged os.FileInfo
	for {
		var l line
		err := io.EOF
		if unchanged == nil {
			l, err = lr.next()
		}
		if err == nil {
			if !h.line(ctx, l) {
				return nil
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == errReplaced {
			h.log.Warnf("%s was truncated and written again; reading it from the start", h.path)
			if !h.truncated(ctx, lr) {
				return nil
			}
			lastRead = 0
			continue
		}
		if err != io.EOF {
			return err
		}
		now := time.Now()
		if off := lr.readOffset(); off != lastRead {
			lastData, lastRead = now, off
		}
		if h.ml != nil && h.ml.due(now) && !h.ml.flush(h.emitter(ctx)) {
			return nil
		}
		cur := unchanged
		if cur == nil {
			if cur, err = h.f.Stat(); err != nil {
				return err
			}
		}
		unchanged = nil
		h.size.Store(cur.Size())
		if cur.Size() < lr.readOffset() {
			if yieldsPastSize(h.f) {
				// Not a truncation: the file gives more than its size says
				// (a kernel file), and reading it again would loop.
				return &RefusedError{Path: h.path, Reason: "has more to read than its size says (a pseudo file); it can't be followed as a log"}
			}
			h.log.Warnf("%s was truncated (size %d < offset %d); reading it from the start", h.path, cur.Size(), lr.readOffset())
			if !h.truncated(ctx, lr) {
				return nil
			}
			lastRead = 0
			continue
		}
		idle := now.Sub(lastData)
		if h.movedAway(cur) {
			if rotatedAt.IsZero() {
				rotatedAt = now
				h.log.Infof("%s was rotated or deleted; reading the old file to its end", h.path)
			}
			if idle >= drainGrace && now.Sub(rotatedAt) >= drainGrace {
				return h.finish(ctx, lr)
			}
		} else if !h.primary && idle >= closeInactive && h.s.win.InFlight() == 0 {
			h.log.Debugf("closing %s: unchanged for %v", h.path, closeInactive)
			return nil
		}
		if !sleep(ctx, min(max(idle/4, pollInterval), maxPollInterval)) {
			return nil
		}
		if fi, err := h.f.Stat(); err == nil && fi.Size() == cur.Size() && fi.ModTime().Equal(cur.ModTime()) {
			unchanged = fi
		}
	}
}

// truncated handles a file that restarted from zero (copytruncate). What
// the harvester had not read yet of the old content may survive in rotated
// copies: it is read from there first, then the file is read from 0. It
// returns false when ctx ended.
//
// A harvester that fell behind (Kafka down) may have missed several
// truncations. The copy of the content it was reading is found by its
// fingerprint; copies made after it (newer modification time, same name
// prefix) hold the contents it missed entirely. They are read one at a
// time, oldest first, each as a new generation of the file, looking again
// after each one, since more may be made while the harvester waits.
func (h *harvester) truncated(ctx context.Context, lr *lineReader) bool {
	cp, ok := h.matchingCopy(lr.start)
	seen := map[fileKey]bool{}
	from := lr.start
	for ok {
		seen[cp.key] = true
		h.log.Infof("reading %s's old content from its rotated copy %s (from offset %d)", h.path, cp.path, from)
		if !h.drainCopy(ctx, cp, from) {
			return false
		}
		if h.ml != nil && !h.ml.flush(h.emitter(ctx)) {
			return false
		}
		if cp, ok = h.nextCopy(cp.mtime, seen); ok {
			h.restart()
			from = 0
		}
	}
	if h.ml != nil && !h.ml.flush(h.emitter(ctx)) {
		return false
	}
	h.restart()
	if _, err := h.f.Seek(0, io.SeekStart); err != nil {
		h.log.Errorf("seek %s: %v", h.path, err)
	}
	lr.reset(checkedReader{h}, 0)
	return true
}

// restart begins a new generation of the file: offset 0, new event ids.
func (h *harvester) restart() {
	h.cur.truncated()
	h.newStream()
}

// rotatedCopy is a file beside the harvester's whose name is the file's
// name with a rotation suffix: a candidate rotated copy.
type rotatedCopy struct {
	path  string
	key   fileKey
	size  int64
	mtime time.Time
}

// rotationSuffix is what logrotate and logging libraries add to a rotated
// file's name: ".1", "-20261203", ".2026-12-03", "_3". Compressed copies
// (".1.gz") and other files beside the log ("app.log.private") are not
// rotated copies brun can read, so they are never opened.
var rotationSuffix = regexp.MustCompile(`^[._-][0-9][0-9._-]*$`)

// rotatedCopies lists the candidate copies by their metadata alone. Only
// names with a rotation suffix that the job's exclude does not name are
// listed; opening one (openChecked) also holds it to agent.allow.
func (h *harvester) rotatedCopies() []rotatedCopy {
	dir, base := filepath.Split(h.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []rotatedCopy
	for _, e := range entries {
		name := e.Name()
		suffix, ok := strings.CutPrefix(name, base)
		if !ok || !rotationSuffix.MatchString(suffix) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		if excludedBy(h.spec.Exclude, p) {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		dev, ino := fileIdentity(fi)
		out = append(out, rotatedCopy{path: p, key: fileKey{dev, ino}, size: fi.Size(), mtime: fi.ModTime()})
	}
	return out
}

// openCopy opens a rotated copy the way the job's own files are opened:
// within agent.allow, a regular file, the inode the listing saw.
func (h *harvester) openCopy(c rotatedCopy) (*os.File, bool) {
	f, _, err := openChecked(c.path, h.allow())
	if err != nil {
		if !isNotExist(err) {
			h.log.Warnf("not reading rotated copy %s: %v", c.path, err)
		}
		return nil, false
	}
	fi, err := f.Stat()
	if err != nil || keyOf(fi) != c.key {
		f.Close()
		return nil, false
	}
	return f, true
}

// matchingCopy finds the copy holding the content being read: the same
// fingerprint, and longer than from.
func (h *harvester) matchingCopy(from int64) (rotatedCopy, bool) {
	if h.fpLen == 0 {
		return rotatedCopy{}, false // too short to recognise a copy of
	}
	for _, c := range h.rotatedCopies() {
		if c.size <= from {
			continue
		}
		f, ok := h.openCopy(c)
		if !ok {
			continue
		}
		fp, ok := fingerprint(f, h.fpLen)
		f.Close()
		if ok && fp == h.fp {
			return c, true
		}
	}
	return rotatedCopy{}, false
}

// nextCopy returns the oldest copy modified after since that was not read.
func (h *harvester) nextCopy(since time.Time, seen map[fileKey]bool) (rotatedCopy, bool) {
	var best rotatedCopy
	found := false
	for _, c := range h.rotatedCopies() {
		if seen[c.key] || !c.mtime.After(since) {
			continue
		}
		if !found || c.mtime.Before(best.mtime) {
			best, found = c, true
		}
	}
	return best, found
}

func (h *harvester) drainCopy(ctx context.Context, c rotatedCopy, from int64) bool {
	cp, ok := h.openCopy(c)
	if !ok {
		return true
	}
	defer cp.Close()
	if _, err := cp.Seek(from, io.SeekStart); err != nil {
		return true
	}
	lr := newLineReader(cp, from, readBufSize, h.spec.LineLimit(), h.codec.nl, h.codec.cr)
	for {
		l, err := lr.next()
		if err != nil {
			break
		}
		if !h.line(ctx, l) {
			return false
		}
	}
	if l, ok := lr.rest(); ok {
		return h.line(ctx, l)
	}
	return true
}

// finish sends what is left of a file that will not grow any more (a
// partial last line, a pending multiline event) and keeps the file open
// until Kafka acknowledged all of it.
func (h *harvester) finish(ctx context.Context, lr *lineReader) error {
	if l, ok := lr.rest(); ok && !h.line(ctx, l) {
		return nil
	}
	if h.ml != nil && !h.ml.flush(h.emitter(ctx)) {
		return nil
	}
	if h.s.win.Idle(ctx) != nil {
		return nil
	}
	h.log.Infof("done with %s: read and shipped to its end", h.path)
	return nil
}

// movedAway reports whether the path the file was found under no longer
// names it.
func (h *harvester) movedAway(open os.FileInfo) bool {
	cur, err := os.Stat(h.path)
	return err != nil || !os.SameFile(cur, open)
}

// newStream starts sending the cursor's current reading: its event ids,
// its fingerprint and its ack window, which the cursor saves from and
// status reads.
func (h *harvester) newStream() {
	pos := h.cur.position()
	fileID := fmt.Sprintf("%d:%d:%d", pos.Dev, pos.Ino, pos.Truncations)
	h.enc = event.NewEncoder(event.Source{
		Host: h.src.host.name, IPs: h.src.host.ips,
		AgentID: h.src.agentID, AgentVersion: h.src.host.version,
		Timezone: cmp.Or(h.spec.Timezone, h.src.host.timezone),
		Job:      h.src.job, Path: h.path, FileID: fileID,
		Fields: h.spec.Fields, JSON: h.spec.JSON,
	})
	h.fp, h.fpLen = pos.Fingerprint, pos.FingerprintLen
	h.s = &stream{
		path:   h.path,
		win:    ack.NewWindow(maxUnackedPerFile, pos.Offset),
		key:    h.enc.StreamKey(),
		counts: h.counts,
	}
	h.cur.track(h.s.win)
	h.view.Store(&fileView{path: h.path, win: h.s.win})
}

// line takes one line from the reader: counts it, decodes it, and sends it
// on, through multiline when the job has it.
func (h *harvester) line(ctx context.Context, l line) bool {
	// Looked at for every line (an atomic load): a file that never runs
	// dry, or whose sink never makes it wait, still stops with its job.
	if ctx.Err() != nil {
		return false
	}
	h.counts.lines.Add(1)
	h.counts.bytes.Add(l.End - l.Start)
	h.counts.mLines.Inc()
	h.counts.mBytes.Add(float64(l.End - l.Start))
	c := chunk{Text: h.dec.decode(l.Text, l.Start == 0), Start: l.Start, End: l.End}
	if l.Truncated {
		c.Flags = event.Truncated
	}
	if h.ml != nil {
		return h.ml.add(c, time.Now(), h.emitter(ctx))
	}
	return h.emit(ctx, c)
}

func (h *harvester) emitter(ctx context.Context) func(chunk) bool {
	return func(c chunk) bool { return h.emit(ctx, c) }
}

// emit hands one event to the sink, waiting while the file's ack window
// or the line channel is full. It returns false when ctx ended.
func (h *harvester) emit(ctx context.Context, c chunk) bool {
	if ctx.Err() != nil {
		return false // stopped: nothing is handed on after the job's Stop
	}
	if !h.filter.keep(c.Text) {
		h.drop(c)
		return true
	}
	read := time.Now()
	tk, err := h.s.win.AddAt(ctx, c.End, read)
	if err != nil {
		return false
	}
	rec := &Record{
		Topic:  h.spec.Topic,
		Key:    h.s.key,
		Value:  h.encode(c, read),
		stream: h.s,
		ticket: tk,
	}
	if !h.out.send(ctx, rec) {
		return false
	}
	h.counts.mSent.Inc()
	metrics.Unacked.Inc()
	return true
}

// encode makes the event of c, cut to fit the sink's largest record: a
// line whose event would be larger loses its end and is flagged
// truncated, as a line over max_line_bytes is.
func (h *harvester) encode(c chunk, read time.Time) []byte {
	v := h.encodeOne(c, read)
	limit := h.out.maxRecord
	for try := 0; limit > 0 && len(v) > limit && len(c.Text) > 0; try++ {
		// Keep the share of the text that fits if escaping is as dense
		// in what is kept as in the whole; a line the job reads as JSON
		// may change shape when cut, so from the third try the text is
		// halved.
		keep := int(int64(len(c.Text)) * int64(limit) / int64(len(v)))
		keep = min(keep-64, len(c.Text)-1)
		if try >= 2 {
			keep = min(keep, len(c.Text)/2)
		}
		c.Text = trimToRune(c.Text[:max(keep, 0)])
		c.Flags |= event.Truncated
		v = h.encodeOne(c, read)
	}
	return v
}

// encodeOne makes the event of c, with what the job's pins read from it.
func (h *harvester) encodeOne(c chunk, read time.Time) []byte {
	if h.pins == nil {
		return h.enc.Encode(c.Text, c.Start, read, c.Flags)
	}
	return h.enc.EncodePinned(c.Text, c.Start, read, c.Flags, h.pins.read(c.Text, read))
}

// trimToRune drops a UTF-8 sequence cut at the end of b.
func trimToRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// status reports the file from the harvester's published view; safe from
// any goroutine, also before the harvester found its saved offset.
func (h *harvester) status() status.File {
	size := h.size.Load()
	v := h.view.Load()
	if v == nil {
		return status.File{Path: h.path, Size: size, Lag: size}
	}
	off := v.win.Watermark()
	f := status.File{Path: v.path, Offset: off, Size: size, Lag: max(size-off, 0)}
	if at, ok := v.win.Oldest(); ok {
		f.OldestUnacked = at.UTC()
	}
	return f
}

// sleep waits d or until ctx ends; it returns false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
