package filestore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

var day1 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	return logrus.NewEntry(l)
}

func doc(index string, seq int) Doc {
	id := fmt.Sprintf("abc-%d", seq)
	return Doc{Index: index, ID: id, Source: []byte(fmt.Sprintf(`{"message":"line %d","event":{"id":%q}}`, seq, id))}
}

func docs(index string, from, n int) []Doc {
	var out []Doc
	for i := from; i < from+n; i++ {
		out = append(out, doc(index, i))
	}
	return out
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	return openAt(t, dir, day1)
}

// openAt opens the store as if the clock said now.
func openAt(t *testing.T, dir string, now time.Time) *Store {
	t.Helper()
	s, err := Open(dir, 7*24*time.Hour, now, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestWriteFilesPerIndexAndDay(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Write(append(docs("app-2026.11.26", 0, 3), docs("web-2026.11.26", 3, 2)...), day1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(docs("app-2026.11.26", 5, 1), day1.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := lines(t, filepath.Join(dir, "2026-11-26", "app-2026.11.26.ndjson"))
	if len(got) != 3 || got[0] != string(doc("", 0).Source) || got[2] != string(doc("", 2).Source) {
		t.Errorf("app file of day 1: %q", got)
	}
	if got := lines(t, filepath.Join(dir, "2026-11-26", "web-2026.11.26.ndjson")); len(got) != 2 {
		t.Errorf("web file of day 1: %q", got)
	}
	if got := lines(t, filepath.Join(dir, "2026-11-27", "app-2026.11.26.ndjson")); len(got) != 1 || got[0] != string(doc("", 5).Source) {
		t.Errorf("app file of day 2: %q", got)
	}
}

// A document sent again (a replay) is skipped: in the same call, in a
// later call, and after the store is opened again.
func TestReplaysAreSkipped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	batch := docs("app", 0, 10)
	if skipped, err := s.Write(append(batch, batch[3]), day1); err != nil || skipped != 1 {
		t.Fatalf("skipped %d (%v), want the repeated document skipped", skipped, err)
	}
	if skipped, _ := s.Write(docs("app", 5, 10), day1); skipped != 5 {
		t.Errorf("skipped %d of a batch overlapping the last by 5", skipped)
	}
	s.Close()

	s = open(t, dir)
	if skipped, _ := s.Write(docs("app", 10, 10), day1); skipped != 5 {
		t.Errorf("after reopening: skipped %d, want the 5 written before", skipped)
	}
	// A document without an id is never taken for a replay.
	noID := Doc{Index: "app", Source: []byte(`{"message":"x"}`)}
	if skipped, _ := s.Write([]Doc{noID, noID}, day1); skipped != 0 {
		t.Errorf("skipped %d documents without an id", skipped)
	}
	got := lines(t, filepath.Join(dir, "2026-11-26", "app.ndjson"))
	if len(got) != 22 {
		t.Fatalf("%d lines, want 20 documents and 2 without id", len(got))
	}
	for i := 0; i < 20; i++ {
		if got[i] != string(doc("", i).Source) {
			t.Fatalf("line %d = %s, want document %d", i, got[i], i)
		}
	}
}

// A write cut by a crash leaves half a line; Open cuts it off (that
// document was never acknowledged and comes again), and it is not taken
// for a replay.
func TestOpenTruncatesACutLine(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Write(docs("app", 0, 2), day1)
	s.Close()
	path := filepath.Join(dir, day1.Format(DayLayout), "app.ndjson")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(doc("app", 2).Source[:20])
	f.Close()

	s = open(t, dir)
	if skipped, err := s.Write(docs("app", 0, 3), day1); err != nil || skipped != 2 {
		t.Fatalf("skipped %d (%v), want 2", skipped, err)
	}
	got := lines(t, path)
	if len(got) != 3 || got[2] != string(doc("", 2).Source) {
		t.Errorf("lines %q", got)
	}
}

// When one file can't be written, the files written in the same call are
// put back as they were, so the retry writes each document once.
func TestFailedWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Write(append(docs("a", 0, 2), docs("b", 2, 2)...), day1); err != nil {
		t.Fatal(err)
	}
	broken := s.files["b"]
	broken.Close() // writes to b now fail
	batch := append(docs("a", 10, 3), docs("b", 20, 3)...)
	if _, err := s.Write(batch, day1); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	if got := lines(t, filepath.Join(dir, "2026-11-26", "a.ndjson")); len(got) != 2 {
		t.Fatalf("a holds %d lines after the failed write, want the 2 before it", len(got))
	}
	delete(s.files, "b")
	if skipped, err := s.Write(batch, day1); err != nil || skipped != 0 {
		t.Fatalf("retry: skipped %d, %v", skipped, err)
	}
	for name, want := range map[string]int{"a": 5, "b": 5} {
		if got := lines(t, filepath.Join(dir, "2026-11-26", name+".ndjson")); len(got) != want {
			t.Errorf("%s holds %d lines, want %d", name, len(got), want)
		}
	}
}

func TestPruneOldDays(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"2026-11-10", "2026-11-18", "2026-11-19", "2026-11-25", "not-a-day"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	openAt(t, dir, time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)) // Open prunes
	days, _ := Days(dir)
	if strings.Join(days, ",") != "2026-11-19,2026-11-25" {
		t.Errorf("days left: %v", days)
	}
	if _, err := os.Stat(filepath.Join(dir, "not-a-day")); err != nil {
		t.Error("a directory that is not a day was removed")
	}
}

func TestLatest(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Write(docs("app", 0, 5), day1)
	s.Write(docs("web", 100, 5), day1)
	s.Write(docs("app", 5, 5), day1.Add(24*time.Hour))
	// A line the writer has not finished is left out.
	f, _ := os.OpenFile(filepath.Join(dir, "2026-11-27", "app.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"message":"half`)
	f.Close()

	q := Query{Index: func(i string) bool { return i == "app" }, Limit: 7, MaxBytes: 1 << 20}
	got, err := Latest(dir, q)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, d := range got {
		msgs = append(msgs, string(d[12:bytes.IndexByte(d[12:], '"')+12]))
	}
	want := "line 9,line 8,line 7,line 6,line 5,line 4,line 3"
	if strings.Join(msgs, ",") != want {
		t.Errorf("latest: %s\nwant    %s", strings.Join(msgs, ","), want)
	}

	q.Keep = func(d []byte) bool {
		return bytes.Contains(d, []byte(`line 1"`)) || bytes.Contains(d, []byte(`line 8"`))
	}
	got, _ = Latest(dir, q)
	if len(got) != 2 || !bytes.Contains(got[0], []byte("line 8")) || !bytes.Contains(got[1], []byte("line 1")) {
		t.Errorf("filtered: %q", got)
	}

	q.MaxBytes = 10 // reads one chunk, then stops
	if got, _ = Latest(dir, Query{Index: q.Index, Keep: func([]byte) bool { return false }, Limit: 5, MaxBytes: 10}); len(got) != 0 {
		t.Errorf("a filter matching nothing returned %q", got)
	}
}

// Lines longer than a read chunk come back whole.
func TestLatestLongLines(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	var batch []Doc
	for i := 0; i < 6; i++ {
		batch = append(batch, Doc{Index: "app", ID: fmt.Sprint(i), Source: []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i*50000)))})
	}
	s.Write(batch, day1)
	got, err := Latest(dir, Query{Index: func(string) bool { return true }, Limit: 10, MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d documents, want 6", len(got))
	}
	for i, d := range got {
		if !bytes.Equal(d, batch[5-i].Source) {
			t.Errorf("document %d: %d bytes, want %d", i, len(d), len(batch[5-i].Source))
		}
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"app-2026.11.26": "app-2026.11.26.ndjson", "../x": "_.._x.ndjson", "a/b": "a_b.ndjson"} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}
