package filestore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// timedDoc is a document with the fields blocks count, at at.
func timedDoc(index string, seq int, at time.Time) Doc {
	id := fmt.Sprintf("t-%d", seq)
	return Doc{Index: index, ID: id, Source: fmt.Appendf(nil,
		`{"@timestamp":%q,"message":"line %d %s","agent":{"id":"10.0.0.%d"},"log":{"level":%q},"event":{"id":%q,"dataset":"app"}}`,
		at.Format(time.RFC3339Nano), seq, strings.Repeat("x", seq%200), seq%3, []string{"info", "warn", "error"}[seq%3], id)}
}

// checkIndex checks that the blocks of path cover its complete lines
// exactly, in order, and that each indexed block's summary is what its
// lines hold. It returns the blocks.
func checkIndex(t *testing.T, path string) []Block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []Block
	err = Blocks(filepath.Dir(filepath.Dir(path)), func(string) bool { return true }, time.Time{}, func(b Block) error {
		if b.Path == path {
			b.Keys = append([]KeyCount(nil), b.Keys...)
			blocks = append(blocks, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	end := int64(0)
	for _, b := range blocks {
		if b.Off != end || b.End > int64(len(data)) {
			t.Fatalf("block [%d, %d) after %d, file of %d bytes", b.Off, b.End, end, len(data))
		}
		end = b.End
		if !b.Indexed {
			continue
		}
		var want builder
		want.reset(b.Off)
		for _, line := range bytes.SplitAfter(data[b.Off:b.End], []byte("\n")) {
			if len(line) > 0 {
				want.add(readFields(bytes.TrimSuffix(line, []byte("\n"))), int64(len(line)))
			}
		}
		if got, w := fmt.Sprint(b.Summary), fmt.Sprint(want.summary()); got != w {
			t.Fatalf("block [%d, %d):\n got %s\nwant %s", b.Off, b.End, got, w)
		}
	}
	if end != int64(len(data)) {
		t.Fatalf("blocks end at %d, the file at %d", end, len(data))
	}
	return blocks
}

func indexed(blocks []Block) (n int) {
	for _, b := range blocks {
		if b.Indexed {
			n++
		}
	}
	return n
}

// The index follows the file as it is written: full blocks are in it,
// the rest is named as not indexed; closing writes the last block; a
// minute of a steady stream is one block.
func TestIndexFollowsWrites(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	path := filepath.Join(dir, "2026-11-26", "app.ndjson")
	seq := 0
	for batch := 0; batch < 20; batch++ {
		var ds []Doc
		for range 100 {
			ds = append(ds, timedDoc("app", seq, day1.Add(time.Duration(seq)*time.Second)))
			seq++
		}
		if _, err := s.Write(ds, day1); err != nil {
			t.Fatal(err)
		}
		checkIndex(t, path)
	}
	s.Close()
	blocks := checkIndex(t, path)
	if indexed(blocks) != len(blocks) || len(blocks) != 34 { // 2,000 seconds: 33 minutes and a third
		t.Fatalf("%d blocks (%d indexed), want 34, all indexed", len(blocks), indexed(blocks))
	}
	for _, b := range blocks[:33] {
		if b.Docs != 60 || b.MinTime().Truncate(time.Minute) != b.MaxTime().Truncate(time.Minute) {
			t.Errorf("block of %d documents from %v to %v, want a minute's 60", b.Docs, b.MinTime(), b.MaxTime())
		}
	}
}

// Blocks end at about blockBytes, and a block with more distinct keys
// than it counts has none (Over).
func TestIndexBlockBounds(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	var ds []Doc
	big := strings.Repeat("y", 950)
	for i := range 1000 { // 1 MB in one second: blocks by size
		ds = append(ds, Doc{Index: "app", Source: fmt.Appendf(nil,
			`{"@timestamp":"2026-11-26T10:00:00.%03dZ","message":%q,"agent":{"id":"a-%d"},"log":{"level":"info"}}`, i, big, i)})
	}
	if _, err := s.Write(ds, day1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	blocks := checkIndex(t, filepath.Join(dir, "2026-11-26", "app.ndjson"))
	if len(blocks) != 5 { // 1,045,000 bytes
		t.Fatalf("%d blocks, want 5 of at most %d bytes", len(blocks), blockBytes)
	}
	for _, b := range blocks[:4] {
		if b.Size() > blockBytes || b.Size() < blockBytes*9/10 || !b.Over || b.Keys != nil {
			t.Errorf("block of %d bytes, over %v, %d keys: want about %d bytes, and no keys (%d agents, more than %d)", b.Size(), b.Over, len(b.Keys), blockBytes, b.Docs, maxBlockKeys)
		}
	}
}

// An index cut by a crash, one that names more than its file holds, one
// of garbage, and a file written before indexes were: each is made to
// agree with its file when the store opens, and until then readers trust
// only what agrees with the file.
func TestIndexAgreesWithFileAfterCrash(t *testing.T) {
	for name, spoil := range map[string]func(t *testing.T, data, idx string){
		"index cut in a line": func(t *testing.T, _, idx string) {
			b, _ := os.ReadFile(idx)
			os.WriteFile(idx, b[:len(b)-7], 0o600)
		},
		"file shorter than its index": func(t *testing.T, data, _ string) {
			st, _ := os.Stat(data)
			os.Truncate(data, st.Size()/2) // a block's documents lost (a disk restored from a backup)
		},
		"garbage": func(t *testing.T, _, idx string) {
			os.WriteFile(idx, []byte("\x00\x01not an index\n"), 0o600)
		},
		"written before indexes": func(t *testing.T, _, idx string) {
			os.Remove(idx)
		},
		"beside another file": func(t *testing.T, data, _ string) {
			b, _ := os.ReadFile(data)
			os.WriteFile(data, append([]byte("{}\n"), b...), 0o600) // restored from elsewhere
		},
		"another version": func(t *testing.T, _, idx string) {
			b, _ := os.ReadFile(idx)
			os.WriteFile(idx, bytes.Replace(b, []byte(`"brun_index":1`), []byte(`"brun_index":9`), 1), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			var ds []Doc
			for i := range 1000 {
				ds = append(ds, timedDoc("app", i, day1.Add(time.Duration(i)*time.Second)))
			}
			s.Write(ds, day1)
			s.Close()
			data := filepath.Join(dir, "2026-11-26", "app.ndjson")
			spoil(t, data, data+IndexExt)
			before := checkIndex(t, data) // readers: only what agrees
			if name == "file shorter than its index" && indexed(before) == 0 {
				t.Fatal("no block of the index was kept")
			}
			if name == "beside another file" && indexed(before) != 0 {
				t.Fatal("an index beside another file was trusted")
			}
			s = open(t, dir)
			blocks := checkIndex(t, data)
			if indexed(blocks) != len(blocks) || len(blocks) < 8 {
				t.Fatalf("after opening: %d blocks, %d indexed; want every one indexed", len(blocks), indexed(blocks))
			}
			// And it goes on from there.
			if _, err := s.Write([]Doc{timedDoc("app", 5000, day1.Add(time.Hour))}, day1); err != nil {
				t.Fatal(err)
			}
			s.Close()
			checkIndex(t, data)
		})
	}
}

// A failed write leaves nothing in the index either, and the retry is
// indexed once.
func TestIndexAfterFailedWrite(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Write([]Doc{timedDoc("a", 0, day1), timedDoc("b", 1, day1)}, day1)
	s.files["b"].Close() // writes to b now fail
	batch := []Doc{timedDoc("a", 2, day1), timedDoc("b", 3, day1)}
	if _, err := s.Write(batch, day1); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	delete(s.files, "b")
	if _, err := s.Write(batch, day1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, name := range []string{"a", "b"} {
		blocks := checkIndex(t, filepath.Join(dir, "2026-11-26", name+".ndjson"))
		if len(blocks) != 1 || !blocks[0].Indexed || blocks[0].Docs != 2 {
			t.Errorf("%s: blocks %+v, want one indexed block of 2 documents", name, blocks)
		}
	}
}

// A day directory removed for its age takes its indexes with it.
func TestPruneRemovesIndexes(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Write([]Doc{timedDoc("app", 0, day1)}, day1)
	s.Close()
	openAt(t, dir, day1.Add(9*24*time.Hour))
	if _, err := os.Stat(filepath.Join(dir, "2026-11-26", "app.ndjson"+IndexExt)); !os.IsNotExist(err) {
		t.Errorf("the index of a pruned day: %v", err)
	}
}

// quickScan reads what a decoder into map[string]any does, or says it
// can't: documents of every shape the search meets, and random cuts and
// changes of them.
func TestQuickScanAgreesWithDecoder(t *testing.T) {
	docs := []string{
		`{"@timestamp":"2026-11-26T10:00:00.123Z","agent":{"id":"a"},"log":{"level":"info"},"event":{"dataset":"web"}}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","agent.id":"flat","log.level":"warn","event.dataset":"db","log":{"level":"hidden"}}`,
		`{"@timestamp":"2026-11-26T10:00:00+02:00","log":{"level":5},"agent":{"id":true},"event":{"dataset":null}}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","log":"flat text","agent":[1,2],"event":{"dataset":{"x":1}}}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","log":{"level":"a","level":"b"},"log":{"level":"c"}}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","log":{"level":"caf\u00e9"},"agent":{"id":"\u0061"}}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","log":{"level":"café"},"message":"ünïcode"}`,
		`{"\u0040timestamp":"2026-11-26T10:00:00Z"}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","n":1e400}`,
		`{"@timestamp":"2026-11-26T10:00:00Z","n":-0.5,"m":[true,false,null,{"a":[]}],"s":"a\"b\\c\/\n"}`,
		`{"@timestamp":"not a time"}`, `{"@timestamp":12}`, `{"@timestamp":null}`, `{}`, `[]`, `null`, `"x"`, ``, `{"a":01}`,
		`{"@timestamp":"2026-11-26T10:00:00Z"} x`, `{"@timestamp":"2026-11-26T10:00:00Z",}`, `{"a":"\x01"}`, `{"a":"\q"}`,
		` {"@timestamp" : "0001-01-01T00:00:00Z" , "log" : { "level" : "x" } } `,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range docs[:10] {
		for range 300 { // cut or change a byte here and there
			b := []byte(d)
			switch rng.IntN(3) {
			case 0:
				b = b[:rng.IntN(len(b))]
			case 1:
				b[rng.IntN(len(b))] = `{}[]",:0e\ a`[rng.IntN(12)]
			case 2:
				i := rng.IntN(len(b))
				b = append(b[:i:i], append([]byte(" "), b[i:]...)...)
			}
			docs = append(docs, string(b))
		}
	}
	sure := 0
	for _, d := range docs {
		got, ok := quickScan([]byte(d))
		if !ok {
			continue
		}
		sure++
		if want := slowFields([]byte(d)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n quick %+v\n  slow %+v", d, got, want)
		}
	}
	if sure < len(docs)/2 {
		t.Errorf("quickScan read %d of %d documents itself", sure, len(docs))
	}
}

// A reader while the store writes sees only blocks whose lines are in the
// file, summed up as they are.
func TestBlocksWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	path := filepath.Join(dir, "2026-11-26", "app.ndjson")
	s.Write([]Doc{timedDoc("app", 0, day1)}, day1)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for batch := range 30 {
			var ds []Doc
			for i := range 100 {
				seq := 1 + batch*100 + i
				ds = append(ds, timedDoc("app", seq, day1.Add(time.Duration(seq)*time.Second)))
			}
			if _, err := s.Write(ds, day1); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	checked := 0
	for done := false; !done; {
		select {
		case <-written:
			done = true
		default:
		}
		var blocks []Block
		Blocks(dir, func(string) bool { return true }, day1, func(b Block) error {
			if b.Indexed {
				b.Keys = append([]KeyCount(nil), b.Keys...)
				blocks = append(blocks, b)
			}
			return nil
		})
		data, err := os.ReadFile(path) // it only grows
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if b.End > int64(len(data)) {
				t.Fatalf("block [%d, %d) of a file of %d bytes", b.Off, b.End, len(data))
			}
			var want builder
			want.reset(b.Off)
			for _, line := range bytes.SplitAfter(data[b.Off:b.End], []byte("\n")) {
				if len(line) > 0 {
					want.add(readFields(bytes.TrimSuffix(line, []byte("\n"))), int64(len(line)))
				}
			}
			if got, w := fmt.Sprint(b.Summary), fmt.Sprint(want.summary()); got != w {
				t.Fatalf("block [%d, %d):\n got %s\nwant %s", b.Off, b.End, got, w)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no block was checked")
	}
}
