package collector

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brun/base/testkit"
)

// These tests drive harvesters through a collector whose sink is a
// memSink: rotation, truncation, restarts and slow acks, with real files
// and no server. Each checks what a user would: every line arrives once
// with its message, log.offset and log.file.path, and the saved offset
// never passes a line that was not acked.

// A renamed file is read to its end, lines written just before the
// rename included, and the new file at the path is read from 0.
func TestHarnessRenameRotation(t *testing.T) {
	h := newHarness(t, "")
	log := filepath.Join(t.TempDir(), "app.log")
	first := writeLines(t, log, "first", 100, "x")
	j := h.start("app", log)
	h.waitAll(first, 10*time.Second)

	// The sink takes nothing for now: most of the tail is still unread
	// when the file is renamed.
	h.sink.pause()
	tail := writeLines(t, log, "tail", 200, strings.Repeat("y", 40))
	old := keyAt(t, log)
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	next := writeLines(t, log, "next", 50, "z")
	h.sink.resume()

	h.waitAll(append(tail, next...), 10*time.Second)
	waitFor(t, 10*time.Second, "the renamed file's reader to end", func() bool { return len(j.Status().Files) == 1 })
	checkOnce(t, h.sink, log, first)
	checkOnce(t, h.sink, log, tail)
	checkOnce(t, h.sink, log, next)
	if next[0].start != 0 {
		t.Fatalf("the new file's first line starts at %d", next[0].start)
	}
	if p := h.positionOf("app", old); p.Offset != tail[len(tail)-1].end {
		t.Errorf("renamed file saved at %d, want its size %d", p.Offset, tail[len(tail)-1].end)
	}
	if p := h.position("app", log); p.Offset != next[len(next)-1].end || p.Truncations != 0 {
		t.Errorf("new file saved at %d (truncations %d), want %d (0)", p.Offset, p.Truncations, next[len(next)-1].end)
	}
}

// copytruncate: what the reader had not read when the file was copied and
// truncated is read from the copy, then the file from 0; no line twice.
func TestHarnessCopyTruncate(t *testing.T) {
	h := newHarness(t, "")
	log := filepath.Join(t.TempDir(), "app.log")
	first := writeLines(t, log, "first", 100, "x")
	j := h.start("app", log)
	h.waitAll(first, 10*time.Second)

	h.sink.pause() // the reader falls behind: it waits on the full line channel
	// More than the reader's buffer, so most of it is unread at the copy.
	between := writeLines(t, log, "between", 3000, strings.Repeat("b", 40))
	waitFor(t, 10*time.Second, "the reader to start on the new lines", func() bool { return j.Status().Lines > 110 })
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	after := writeLines(t, log, "after", 50, "a")
	h.sink.resume()

	h.waitAll(append(between, after...), 20*time.Second)
	checkOnce(t, h.sink, log, first)
	checkOnce(t, h.sink, log, between)
	checkOnce(t, h.sink, log, after)
	waitFor(t, 10*time.Second, "the offset of the last line", func() bool {
		return h.position("app", log).Offset == after[len(after)-1].end
	})
	if p := h.position("app", log); p.Truncations != 1 {
		t.Errorf("truncations %d after one copytruncate, want 1", p.Truncations)
	}
}

// A collector stopped with lines unacked saves the contiguous watermark;
// the next one on the same data dir resumes there: every line is shipped
// at least once, none below the watermark again, and a line shipped
// twice keeps its event.id (the store overwrites it).
func TestHarnessRestartResumesFromTheSavedWatermark(t *testing.T) {
	data := t.TempDir()
	log := filepath.Join(t.TempDir(), "app.log")
	lines := writeLines(t, log, "line", 100, "r")
	index := byStart(lines)

	a := newHarness(t, data)
	a.sink.hold()
	ja := a.start("app", log)
	waitFor(t, 10*time.Second, "100 records held", func() bool { return a.sink.heldCount() == 100 })
	// Acked before the stop: lines 0-39, and 50-59 beyond a gap.
	for _, tk := range a.sink.takeHeld() {
		if i := index[tk.ev.Log.Offset]; i < 40 || (i >= 50 && i < 60) {
			tk.rec.Ack()
		}
	}
	ja.Stop()
	a.close()
	wm := lines[39].end
	var saved []Position
	for _, p := range savedPositions(t, data) {
		if p.Job == "app" {
			saved = append(saved, p)
		}
	}
	if len(saved) != 1 || saved[0].Offset != wm {
		t.Fatalf("saved positions %+v, want one at %d (the end of line 39)", saved, wm)
	}

	b := newHarness(t, data)
	b.start("app", log)
	b.waitAll(lines[40:], 10*time.Second)
	for _, l := range lines[:40] {
		if n := len(b.sink.withMessage(l.text)); n > 0 {
			t.Errorf("%q, below the saved offset, was shipped again after the restart (%d times)", l.text, n)
		}
	}
	checkOnce(t, b.sink, log, lines[40:])
	for _, l := range lines[50:60] {
		before, after := a.sink.withMessage(l.text), b.sink.withMessage(l.text)
		if len(before) != 1 || len(after) != 1 || before[0].Event.ID != after[0].Event.ID {
			t.Errorf("%q shipped before and after the restart with ids %v and %v, want one same id", l.text, ids(before), ids(after))
		}
	}
	waitFor(t, 10*time.Second, "the offset of the last line", func() bool {
		return b.position("app", log).Offset == lines[len(lines)-1].end
	})
}

// Acks arriving in reverse or random order move the saved offset only
// over a contiguous prefix of acked lines: after each batch it is the
// end of the longest acked prefix, and the offsets file never passes it.
func TestHarnessOutOfOrderAcksSaveAContiguousPrefix(t *testing.T) {
	content := testkit.RealLog(t, "realworld.initial") // a JBoss log with a blank first line
	seed := time.Now().UnixNano()
	t.Logf("random order seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	for _, c := range []struct {
		name  string
		order func([]taken)
	}{
		{"reverse", func(ts []taken) {
			for i, j := 0, len(ts)-1; i < j; i, j = i+1, j-1 {
				ts[i], ts[j] = ts[j], ts[i]
			}
		}},
		{"random", func(ts []taken) { rnd.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] }) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			h := newHarness(t, data)
			log := filepath.Join(t.TempDir(), "server.log")
			if err := os.WriteFile(log, content, 0o644); err != nil {
				t.Fatal(err)
			}
			lines := linesOf(content)
			index := byStart(lines)
			h.sink.hold()
			h.start("app", log)
			waitFor(t, 10*time.Second, "every line held", func() bool { return h.sink.heldCount() == len(lines) })
			held := h.sink.takeHeld()
			for _, tk := range held {
				i, ok := index[tk.ev.Log.Offset]
				if !ok || tk.ev.Message != lines[i].text || tk.ev.Log.File.Path != log {
					t.Fatalf("event %+v is no line of the file", tk.ev)
				}
			}
			c.order(held)
			acked := make([]bool, len(lines))
			prefix := 0 // lines[:prefix] are all acked
			const batch = 7
			for from := 0; from < len(held); from += batch {
				for _, tk := range held[from:min(from+batch, len(held))] {
					acked[index[tk.ev.Log.Offset]] = true
					tk.rec.Ack()
				}
				for prefix < len(lines) && acked[prefix] {
					prefix++
				}
				want := int64(0)
				if prefix > 0 {
					want = lines[prefix-1].end
				}
				if got := h.position("app", log).Offset; got != want {
					t.Fatalf("after %d acks: registry offset %d, want %d (the end of the %d lines acked in a row)", min(from+batch, len(held)), got, want, prefix)
				}
				if err := h.c.reg.Flush(); err != nil {
					t.Fatal(err)
				}
				for _, p := range savedPositions(t, data) {
					if p.Job == "app" && p.Offset > want {
						t.Fatalf("offsets file at %d past line %d, which is not acked", p.Offset, prefix)
					}
				}
			}
			if prefix != len(lines) {
				t.Fatalf("%d of %d lines acked in a row after every ack", prefix, len(lines))
			}
		})
	}
}

// A file deleted while its lines are unacked stays open until they are
// acked: its reader sends the partial last line and waits for the acks,
// then closes it and saves the offset of its end.
func TestHarnessDeletedFileIsKeptOpenUntilAcked(t *testing.T) {
	h := newHarness(t, "")
	log := filepath.Join(t.TempDir(), "app.log")
	lines := writeLines(t, log, "line", 50, "d")
	const partial = "partial last line" // no newline: sent when the reader lets go of the file
	appendTo(t, log, partial)
	h.sink.hold()
	j := h.start("app", log)
	waitFor(t, 10*time.Second, "50 records held", func() bool { return h.sink.heldCount() == 50 })
	k := keyAt(t, log)
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}

	// The partial line arrives only from the reader's last step, which
	// then waits for the acks.
	waitFor(t, 10*time.Second, "the partial last line", func() bool { return len(h.sink.withMessage(partial)) == 1 })
	if !holdsOpen(t, log) || len(j.Status().Files) != 1 {
		t.Fatal("the deleted file was let go with its lines unacked")
	}
	held := h.sink.takeHeld()
	for i := len(held) - 1; i > 0; i-- { // all but the oldest, newest first
		held[i].rec.Ack()
	}
	if p := h.positionOf("app", k); p.Offset != 0 {
		t.Fatalf("saved offset %d with the first line unacked", p.Offset)
	}
	if !holdsOpen(t, log) {
		t.Fatal("the deleted file was let go with its first line unacked")
	}
	held[0].rec.Ack()
	waitFor(t, 10*time.Second, "the reader to close the deleted file", func() bool {
		return !holdsOpen(t, log) && len(j.Status().Files) == 0
	})
	end := lines[len(lines)-1].end
	if p := h.positionOf("app", k); p.Offset != end+int64(len(partial)) {
		t.Errorf("saved offset %d, want the file's size %d", p.Offset, end+int64(len(partial)))
	}
	checkOnce(t, h.sink, log, lines)
	checkOnce(t, h.sink, log, []fileLine{{text: partial, start: end}})
}

// keyAt returns the device and inode of the file at path.
func keyAt(t *testing.T, path string) fileKey {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return keyOf(fi)
}

// holdsOpen reports whether this process has the deleted file that was
// at path open (what lsof shows as "path (deleted)").
func holdsOpen(t *testing.T, path string) bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path+" (deleted)" {
			return true
		}
	}
	return false
}

// byStart maps each line's start offset to its index.
func byStart(lines []fileLine) map[int64]int {
	m := make(map[int64]int, len(lines))
	for i, l := range lines {
		m[l.start] = i
	}
	return m
}

// ids returns the event ids of es.
func ids(es []shipped) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Event.ID)
	}
	return out
}
