package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// offsetOf returns the registry's offset of job's file at path; ok is
// false while it has no entry.
func (h *harness) offsetOf(job, path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	k := keyOf(fi)
	for _, p := range h.c.reg.Snapshot() {
		if p.Job == job && p.Dev == k.dev && p.Ino == k.ino {
			return p.Offset, true
		}
	}
	return 0, false
}

// write appends text to path and returns its lines with their offsets.
func write(t *testing.T, path string, texts ...string) []fileLine {
	t.Helper()
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	out := make([]fileLine, len(texts))
	for i, s := range texts {
		out[i] = fileLine{text: s, start: size, end: size + int64(len(s)) + 1}
		size = out[i].end
	}
	appendTo(t, path, strings.Join(texts, "\n")+"\n")
	return out
}

// include_lines keeps, then exclude_lines drops; the dropped lines are
// never sent, and the saved offset passes them: it waits for the kept
// line before them, then reaches the file's end though its last lines were
// dropped.
func TestHarnessLineFiltersDropAndMoveTheOffset(t *testing.T) {
	data := t.TempDir()
	h := newHarness(t, data)
	log := filepath.Join(t.TempDir(), "app.log")
	lines := write(t, log,
		"INFO starting", "ERROR disk full", "DEBUG ERROR noisy", "WARN slow", "INFO idle",
		"ERROR last kept", "INFO dropped at the end", "DEBUG WARN dropped too")
	keep := []fileLine{lines[1], lines[3], lines[5]}
	h.sink.hold()
	j := startJob(t, h.c, "app", fmt.Sprintf(`{"path": %q, "topic": "t", "include_lines": ["ERROR", "^WARN"], "exclude_lines": ["^DEBUG"]}`, log))
	waitFor(t, 10*time.Second, "3 kept events held", func() bool { return h.sink.heldCount() == 3 })
	waitFor(t, 10*time.Second, "5 dropped events counted", func() bool { return j.Status().Dropped == 5 })
	held := h.sink.takeHeld()
	if off, _ := h.offsetOf("app", log); off != lines[0].end {
		t.Fatalf("offset %d with the first kept event unacked, want %d (past the dropped line before it)", off, lines[0].end)
	}
	for i := len(held) - 1; i >= 1; i-- {
		held[i].rec.Ack()
	}
	if off, _ := h.offsetOf("app", log); off != lines[0].end {
		t.Fatalf("offset %d passed the unacked first kept event", off)
	}
	held[0].rec.Ack()
	end := lines[len(lines)-1].end
	waitFor(t, 10*time.Second, "the offset of the file's end", func() bool {
		off, _ := h.offsetOf("app", log)
		return off == end
	})
	checkOnce(t, h.sink, log, keep)
	for _, i := range []int{0, 2, 4, 6, 7} {
		if got := h.sink.withMessage(lines[i].text); len(got) != 0 {
			t.Errorf("%q was sent; the filters drop it", lines[i].text)
		}
	}
	if st := j.Status(); st.Lines != 8 || st.Acked != 3 || st.Dropped != 5 {
		t.Errorf("status lines %d, acked %d, dropped %d; want 8, 3, 5", st.Lines, st.Acked, st.Dropped)
	}
	if err := h.c.reg.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, p := range savedPositions(t, data) {
		if p.Job == "app" && p.Offset != end {
			t.Errorf("offsets file has %d, want the file's end %d", p.Offset, end)
		}
	}
}

// With multiline the filters see the joined event: a continuation line
// that matches exclude_lines drops its whole event, first line included;
// a dropped event last in the file still takes the offset to the end.
func TestHarnessLineFiltersSeeMultilineEvents(t *testing.T) {
	h := newHarness(t, "")
	log := filepath.Join(t.TempDir(), "app.log")
	write(t, log,
		"ERROR first", "  at com.app.Main", "  at com.app.Run",
		"WARN noisy", "  at com.noisy.Poller",
		"ERROR second", "  at com.app.Main",
		"ERROR noisy last", "  at com.noisy.Poller")
	size := fileSize(t, log)
	j := startJob(t, h.c, "app", fmt.Sprintf(`{"path": %q, "topic": "t", "multiline": {"pattern": "^\\s", "match": "after", "timeout": "100ms"}, "exclude_lines": ["at com\\.noisy\\."]}`, log))
	waitFor(t, 10*time.Second, "the offset of the file's end", func() bool {
		off, _ := h.offsetOf("app", log)
		return off == size
	})
	want := []string{"ERROR first\n  at com.app.Main\n  at com.app.Run", "ERROR second\n  at com.app.Main"}
	for _, m := range want {
		if n := len(h.sink.withMessage(m)); n != 1 {
			t.Errorf("event %q arrived %d times, want once", m, n)
		}
	}
	if got := h.sink.shippedFor("noisy"); len(got) != 0 {
		t.Errorf("events of the excluded stack traces were sent: %+v", got)
	}
	if st := j.Status(); st.Dropped != 2 || st.Acked != 2 {
		t.Errorf("status dropped %d, acked %d; want 2, 2", st.Dropped, st.Acked)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// start "end": a file there when the job starts is read from its end; a
// file created later is read from its start; after a restart the saved
// offset wins, so lines written while the agent was down arrive.
func TestHarnessStartAtEnd(t *testing.T) {
	data := t.TempDir()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	old := writeLines(t, a, "old", 50, "o")
	value := fmt.Sprintf(`{"path": %q, "topic": "t", "start": "end"}`, filepath.Join(dir, "*.log"))

	h := newHarness(t, data)
	j := startJob(t, h.c, "app", value)
	waitFor(t, 10*time.Second, "a.log claimed", func() bool { _, ok := h.offsetOf("app", a); return ok })
	if off, _ := h.offsetOf("app", a); off != old[len(old)-1].end {
		t.Fatalf("a.log starts at %d, want its size %d", off, old[len(old)-1].end)
	}
	fresh := writeLines(t, a, "fresh", 20, "f")
	b := filepath.Join(dir, "b.log")
	born := writeLines(t, b, "born", 20, "b")
	h.waitAll(append(fresh, born...), 10*time.Second)
	checkOnce(t, h.sink, a, fresh)
	checkOnce(t, h.sink, b, born) // from offset 0: created after the job started
	if got := h.sink.shippedFor("old"); len(got) != 0 {
		t.Fatalf("%d lines written before the job started were sent", len(got))
	}
	waitFor(t, 10*time.Second, "a.log's offset at its end", func() bool {
		off, _ := h.offsetOf("app", a)
		return off == fresh[len(fresh)-1].end
	})
	j.Stop()
	h.close()

	down := writeLines(t, a, "down", 10, "d") // while no agent runs
	r := newHarness(t, data)
	startJob(t, r.c, "app", value)
	r.waitAll(down, 10*time.Second)
	checkOnce(t, r.sink, a, down)
	for _, prefix := range []string{"old", "fresh", "born"} {
		if got := r.sink.shippedFor(prefix); len(got) != 0 {
			t.Errorf("after the restart %d %q lines were sent again", len(got), prefix)
		}
	}
}

// ignore_older: a file nobody wrote to within it is not opened; a recent
// one is read.
func TestHarnessIgnoreOlder(t *testing.T) {
	h := newHarness(t, "")
	dir := t.TempDir()
	stale := filepath.Join(dir, "a-stale.log") // sorts first: passed over before the recent one is opened
	writeLines(t, stale, "stale", 10, "s")
	then := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(stale, then, then); err != nil {
		t.Fatal(err)
	}
	recent := filepath.Join(dir, "b-recent.log")
	lines := writeLines(t, recent, "recent", 10, "r")
	j := startJob(t, h.c, "app", fmt.Sprintf(`{"path": %q, "topic": "t", "ignore_older": "24h"}`, filepath.Join(dir, "*.log")))
	h.waitAll(lines, 10*time.Second)
	checkOnce(t, h.sink, recent, lines)
	if got := h.sink.shippedFor("stale"); len(got) != 0 {
		t.Fatalf("%d lines of the file older than ignore_older were sent", len(got))
	}
	if _, ok := h.offsetOf("app", stale); ok {
		t.Fatal("the file older than ignore_older was opened")
	}
	if st := j.Status(); len(st.Files) != 1 || st.Files[0].Path != recent {
		t.Fatalf("job reads %+v, want only %s", st.Files, recent)
	}
}

func TestTooOld(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		age    time.Duration
		maxAge time.Duration
		want   bool
	}{
		{48 * time.Hour, 24 * time.Hour, true},
		{23 * time.Hour, 24 * time.Hour, false},
		{-time.Hour, 24 * time.Hour, false}, // modified "in the future": a skewed clock
		{1000 * time.Hour, 0, false},        // no ignore_older
	} {
		if got := tooOld(fakeInfo{mod: now.Add(-c.age)}, c.maxAge, now); got != c.want {
			t.Errorf("age %v, ignore_older %v: tooOld %v, want %v", c.age, c.maxAge, got, c.want)
		}
	}
}

type fakeInfo struct {
	os.FileInfo
	mod time.Time
}

func (f fakeInfo) ModTime() time.Time { return f.mod }

// ** matches any number of directories, zero included; exclude takes **
// too; a symbolic link to a directory above is not followed (no loop); a
// file in a directory made later is found.
func TestHarnessDoubleStarGlob(t *testing.T) {
	h := newHarness(t, "")
	dir := t.TempDir()
	mk := func(rel, prefix string) (string, []fileLine) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		return p, writeLines(t, p, prefix, 5, "x")
	}
	top, topLines := mk("top.log", "top")
	mid, midLines := mk("a/mid.log", "mid")
	deep, deepLines := mk("a/b/c/deep.log", "deep")
	mk("a/old/gone.log", "gone")     // excluded by a ** glob
	mk("a/b/noise.skip.log", "skip") // excluded by its name
	mk("a/b/other.txt", "txt")       // not *.log
	if err := os.Symlink(dir, filepath.Join(dir, "a", "b", "loop")); err != nil {
		t.Fatal(err)
	}
	j := startJob(t, h.c, "app", fmt.Sprintf(`{"path": %q, "topic": "t", "exclude": [%q, "*.skip.log"]}`,
		filepath.Join(dir, "**", "*.log"), filepath.Join(dir, "**", "old", "**")))
	h.waitAll(append(append(topLines, midLines...), deepLines...), 10*time.Second)
	later, laterLines := mk("new/x/y/later.log", "later")
	h.waitAll(laterLines, 10*time.Second)
	checkOnce(t, h.sink, top, topLines)
	checkOnce(t, h.sink, mid, midLines)
	checkOnce(t, h.sink, deep, deepLines)
	checkOnce(t, h.sink, later, laterLines)
	for _, prefix := range []string{"gone", "skip", "txt"} {
		if got := h.sink.shippedFor(prefix); len(got) != 0 {
			t.Errorf("%d %q lines were sent", len(got), prefix)
		}
	}
	for _, f := range j.Status().Files {
		if strings.Contains(f.Path, "/loop/") {
			t.Errorf("read %s through the symbolic link", f.Path)
		}
	}
}
