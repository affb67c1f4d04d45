package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink is a sink that keeps every record it takes in memory, with acks
// the test controls: acked at once (the default), or held until the test
// takes them (takeHeld) and acks them in whatever order it likes. It can
// also stop taking records at all (pause), so readers fall behind.
//
// At shutdown it returns at once: records it holds stay unacked, as with
// a downstream that crashed, and are read again after a restart.
type memSink struct {
	t  *testing.T
	in <-chan *Record

	mu      sync.Mutex
	holding bool
	held    []taken
	paused  chan struct{} // closed by resume; nil while taking
	events  []shipped     // every record taken, in order
	byMsg   map[string][]shipped
}

// taken is a record the sink took, and its event as a user would read it.
type taken struct {
	rec *Record
	ev  shipped
}

// run takes records until ctx ends; see memSink.
func (s *memSink) run(ctx context.Context) {
	for {
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		if paused != nil {
			select {
			case <-paused:
			case <-ctx.Done():
				return
			}
		}
		select {
		case rec := <-s.in:
			s.take(rec)
		case <-ctx.Done():
			return
		}
	}
}

func (s *memSink) take(rec *Record) {
	var e shipped
	if err := json.Unmarshal(rec.Value, &e); err != nil {
		s.t.Errorf("event %s is not JSON: %v", rec.Value, err)
	}
	e.Topic = rec.Topic
	s.mu.Lock()
	s.events = append(s.events, e)
	if s.byMsg == nil {
		s.byMsg = map[string][]shipped{}
	}
	s.byMsg[e.Message] = append(s.byMsg[e.Message], e)
	hold := s.holding
	if hold {
		s.held = append(s.held, taken{rec, e})
	}
	s.mu.Unlock()
	if !hold {
		rec.Ack()
	}
}

// hold makes the sink keep the records it takes from now on unacked.
func (s *memSink) hold() { s.mu.Lock(); s.holding = true; s.mu.Unlock() }

// ackNow makes the sink ack the records it takes from now on at once;
// those it holds stay held.
func (s *memSink) ackNow() { s.mu.Lock(); s.holding = false; s.mu.Unlock() }

// takeHeld returns the records held so far, in the order they were taken,
// and forgets them: the caller acks each exactly once (rec.Ack).
func (s *memSink) takeHeld() []taken {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.held
	s.held = nil
	return out
}

// heldCount returns how many records are held.
func (s *memSink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// pause makes the sink take nothing until resume: the line channel fills
// and the readers wait.
func (s *memSink) pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = make(chan struct{})
	}
}

// resume lets a paused sink take records again.
func (s *memSink) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
	}
}

// shippedFor returns the events taken so far whose message holds text.
func (s *memSink) shippedFor(text string) []shipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shipped
	for _, e := range s.events {
		if strings.Contains(e.Message, text) {
			out = append(out, e)
		}
	}
	return out
}

// harness runs a collector on data dir data whose sink is a memSink: the
// agent's data path from files to saved offsets, with no server.
type harness struct {
	t    *testing.T
	c    *Collector
	sink *memSink
	once sync.Once
	stop func()
}

// newHarness starts a collector on data (a fresh temp dir when empty). It
// is stopped when the test ends, after its jobs.
func newHarness(t *testing.T, data string) *harness {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	c, err := New(Config{AgentID: "agent-1", DataDir: data, ChanMsgSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	s := &memSink{t: t, in: c.lines}
	c.sink, c.maxRecord = s, 0 // in place of the Kafka producer New made, which never ran
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); c.Run(ctx) }()
	h := &harness{t: t, c: c, sink: s}
	h.stop = func() {
		s.resume() // a paused sink must see ctx end
		cancel()
		<-ran
	}
	t.Cleanup(h.close)
	return h
}

// close stops the collector (its jobs must be stopped first): the sink
// returns and the offsets are saved. Calls after the first do nothing.
func (h *harness) close() { h.once.Do(h.stop) }

// start runs a job reading path (a plain path or a glob) to topic "t".
func (h *harness) start(name, path string) *Job {
	return startJob(h.t, h.c, name, fmt.Sprintf(`{"path": %q, "topic": "t"}`, path))
}

// position returns the registry's position of job's file at path, as it
// is now (Snapshot reads the live watermark).
func (h *harness) position(job, path string) Position {
	h.t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.positionOf(job, keyOf(fi))
}

// positionOf returns the registry's position of job's file k.
func (h *harness) positionOf(job string, k fileKey) Position {
	h.t.Helper()
	for _, p := range h.c.reg.Snapshot() {
		if p.Job == job && p.Dev == k.dev && p.Ino == k.ino {
			return p
		}
	}
	h.t.Fatalf("the registry has no entry for job %s's file %d:%d", job, k.dev, k.ino)
	return Position{}
}

// savedPositions returns the positions saved in data's offsets file.
func savedPositions(t *testing.T, data string) []Position {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "agent", registryFile))
	if err != nil {
		t.Fatal(err)
	}
	var ps []Position
	if err := json.Unmarshal(b, &ps); err != nil {
		t.Fatalf("offsets file: %v", err)
	}
	return ps
}

// fileLine is one line a test wrote: its text and where it starts and
// ends (just past its newline).
type fileLine struct {
	text       string
	start, end int64
}

// writeLines appends n lines "<prefix> NNNN <pad>" to path and returns
// them with their offsets.
func writeLines(t *testing.T, path, prefix string, n int, pad string) []fileLine {
	t.Helper()
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	var b strings.Builder
	out := make([]fileLine, n)
	for i := range out {
		text := fmt.Sprintf("%s %04d %s", prefix, i, pad)
		out[i] = fileLine{text: text, start: size, end: size + int64(len(text)) + 1}
		size = out[i].end
		b.WriteString(text + "\n")
	}
	appendTo(t, path, b.String())
	return out
}

// linesOf splits data, which ends with a newline, into its lines as
// written at offset 0.
func linesOf(data []byte) []fileLine {
	var out []fileLine
	var at int64
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" {
			break
		}
		out = append(out, fileLine{text: strings.TrimSuffix(l, "\n"), start: at, end: at + int64(len(l))})
		at += int64(len(l))
	}
	return out
}

// withMessage returns the events taken so far whose message is text.
func (s *memSink) withMessage(text string) []shipped {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shipped(nil), s.byMsg[text]...)
}

// waitAll waits until every line of want has been taken by the sink.
func (h *harness) waitAll(want []fileLine, timeout time.Duration) {
	h.t.Helper()
	waitFor(h.t, timeout, fmt.Sprintf("%d lines up to %q", len(want), want[len(want)-1].text), func() bool {
		for _, l := range want {
			if len(h.sink.withMessage(l.text)) == 0 {
				return false
			}
		}
		return true
	})
}

// checkOnce fails t unless each line of want arrived exactly once, with
// its text as message, its start as log.offset and path as log.file.path.
func checkOnce(t *testing.T, s *memSink, path string, want []fileLine) {
	t.Helper()
	for _, l := range want {
		got := s.withMessage(l.text)
		if len(got) != 1 {
			t.Errorf("%q arrived %d times, want once", l.text, len(got))
			continue
		}
		e := got[0]
		if e.Log.Offset != l.start || e.Log.File.Path != path {
			t.Errorf("%q arrived with log.offset %d, log.file.path %s; want %d, %s", l.text, e.Log.Offset, e.Log.File.Path, l.start, path)
		}
	}
}
