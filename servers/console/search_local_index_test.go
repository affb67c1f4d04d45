package console

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/servers/filestore"
	"brun/servers/indexname"
)

// indexTestDay is the middle day of the generated documents.
var indexTestDay = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)

// writeIndexTestFiles writes three days of documents through a Store, as
// the transfer does: three topics, five agents (one of them minutes
// behind the others for a while, one that names a new agent per event for
// a while), levels as text, numbers and missing, flat and nested fields,
// escapes and non-ASCII text, lines without a time or not JSON at all,
// replays the store skips and repeats it can't (no id). The first day's
// indexes are removed (files written before indexes were), one index of
// the second day is cut by a crash, and the store is left open with a
// block not yet in its index. It returns the store's directory.
func writeIndexTestFiles(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Brun.DataDir = t.TempDir()
	dir := cfg.LocalESDir()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	log := logrus.NewEntry(quiet)
	rng := rand.New(rand.NewPCG(13, 4))
	levels := []string{`"info"`, `"info"`, `"info"`, `"warn"`, `"error"`, `"debug"`, `5`, ``}
	words := []string{"request handled", "disk full on /data", "DISK Full again", `\u0064isk full (escaped)`, "café déjà vu", "timeout talking to db"}
	seq := 0
	event := func(at time.Time) filestore.Doc {
		seq++
		topic := []string{"web", "db", "auth"}[rng.IntN(3)]
		agent := fmt.Sprintf(`"10.0.0.%d"`, rng.IntN(5))
		if seq%2000 > 1850 {
			agent = fmt.Sprintf(`"host-%d"`, seq) // a new agent per event: blocks too varied to count
		}
		level := levels[rng.IntN(len(levels))]
		logField := `"log":{"level":` + level + `},`
		if level == `` {
			logField = ``
		} else if seq%7 == 0 {
			logField = `"log.level":` + level + `,`
		}
		id := fmt.Sprintf("e-%06d", seq)
		src := fmt.Sprintf(`{"@timestamp":%q,"message":"%s %d",%s"agent":{"id":%s},"event":{"id":%q,"dataset":%q}}`,
			at.Format(time.RFC3339Nano), words[rng.IntN(len(words))], seq, logField, agent, id, topic)
		switch seq % 997 {
		case 1:
			src = `{"message":"no time",` + src[1:strings.Index(src, `"message"`)] + `"event":{"id":"x"}}`
		case 2:
			src = `{"@timestamp":"yesterday","message":"bad time"}`
		case 3:
			src = `not json at all`
		}
		return filestore.Doc{Index: topic + "-" + at.Format("2006.01.02"), ID: id, Source: []byte(src)}
	}
	write := func(s *filestore.Store, docs []filestore.Doc, now time.Time) {
		t.Helper()
		if _, err := s.Write(docs, now); err != nil {
			t.Fatal(err)
		}
	}
	// The first day, then its indexes removed.
	s, err := filestore.Open(dir, 30*24*time.Hour, indexTestDay.Add(-time.Hour), log)
	if err != nil {
		t.Fatal(err)
	}
	at := indexTestDay.Add(-24 * time.Hour)
	for range 6 {
		var docs []filestore.Doc
		for range 150 {
			at = at.Add(time.Duration(rng.IntN(40_000)) * time.Millisecond)
			docs = append(docs, event(at))
		}
		write(s, docs, indexTestDay.Add(-time.Hour))
	}
	s.Close()
	old, _ := filepath.Glob(filepath.Join(dir, "2026-12-02", "*"+filestore.IndexExt))
	for _, p := range old {
		os.Remove(p)
	}
	if len(old) != 3 {
		t.Fatalf("%d indexes on the first day, want 3", len(old))
	}
	// The second day, steady with a late agent for a while, and replays.
	s, err = filestore.Open(dir, 30*24*time.Hour, indexTestDay.Add(time.Hour), log)
	if err != nil {
		t.Fatal(err)
	}
	at = indexTestDay
	var last []filestore.Doc
	for batch := range 24 {
		var docs []filestore.Doc
		for i := range 200 {
			at = at.Add(time.Duration(rng.IntN(12_000)) * time.Millisecond)
			if batch >= 16 {
				at = at.Truncate(time.Second) // many events of one second, in several files
			}
			e := at
			if batch >= 8 && batch < 11 && i%4 == 0 {
				e = at.Add(-3 * time.Minute) // a late agent
			}
			docs = append(docs, event(e))
		}
		if batch%7 == 6 {
			docs = append(docs, last[:50]...) // replayed: skipped
			repeat := last[100]
			repeat.ID = ""
			docs = append(docs, repeat) // repeated without an id: written again
		}
		write(s, docs, at)
		last = docs
	}
	s.Close()
	cut, _ := filepath.Glob(filepath.Join(dir, "2026-12-03", "web-*"+filestore.IndexExt))
	if len(cut) != 1 {
		t.Fatalf("web indexes of the second day: %v", cut)
	}
	b, _ := os.ReadFile(cut[0])
	os.WriteFile(cut[0], b[:len(b)*2/3], 0o600) // a crash cut it
	// The third day's writing, left open.
	s, err = filestore.Open(dir, 30*24*time.Hour, indexTestDay.Add(25*time.Hour), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	var docs []filestore.Doc
	for range 300 {
		at = at.Add(time.Duration(rng.IntN(5_000)) * time.Millisecond)
		docs = append(docs, event(at))
	}
	write(s, docs, indexTestDay.Add(25*time.Hour))
	return dir
}

// fullScanCopy copies dir without its indexes: every file is then read
// whole, as before indexes were.
func fullScanCopy(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, filestore.IndexExt) {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(out, filepath.Dir(rel)), 0o700)
		return os.WriteFile(filepath.Join(out, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runLocal runs a search as GET /api/search would, and returns its
// answer and how many bytes it read.
func runLocal(t *testing.T, dir string, v url.Values) (SearchAnswer, int64) {
	t.Helper()
	req, errs := parseSearch(v, indexTestDay.Add(48*time.Hour))
	if len(errs) > 0 {
		t.Fatalf("%v: %v", v, errs)
	}
	q, err := parseLocalQuery(req.query)
	if err != nil {
		t.Fatal(err)
	}
	pattern, err := indexname.Parse(config.Default().ES.Index)
	if err != nil {
		t.Fatal(err)
	}
	s := newLocalSearch(req, q, localScanBytes)
	if err := s.run(dir, pattern); err != nil {
		t.Fatal(err)
	}
	return s.answer(), s.bound - s.budget
}

// A search through the indexes answers exactly what reading every file
// whole answers: total, histogram, facets, and each page, for ranges
// whole days and parts of minutes, filters, query terms and words; and it
// reads much less where no query needs the documents.
func TestSearchLocalIndexAgreesWithFullScan(t *testing.T) {
	dir := writeIndexTestFiles(t)
	full := fullScanCopy(t, dir)
	ranges := [][2]string{
		{"2026-12-02T00:00:00Z", "2026-12-05T00:00:00Z"},
		{"2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"},
		{"2026-12-03T01:00:00Z", "2026-12-03T02:00:00Z"},
		{"2026-12-03T01:07:13.5Z", "2026-12-03T01:21:40Z"},
		{"2026-12-03T02:00:00Z", "2026-12-03T02:00:30Z"},
		{"2026-12-03T06:00:00Z", "2026-12-03T06:20:00Z"},
	}
	filters := []url.Values{
		{}, {"level": {"error"}}, {"level": {"error", "warn"}}, {"agent": {"10.0.0.1"}},
		{"topic": {"web"}}, {"topic": {"db"}, "level": {"info"}}, {"level": {"5"}},
	}
	queries := []string{"", "disk", "disk full", "log.level:error", "event.dataset:db"}
	var readIndexed, readFull int64
	compared := 0
	for ri, r := range ranges {
		for fi, f := range filters {
			for qi, q := range queries {
				if ri != 1 && qi > 1 && fi > 1 {
					continue // every query and filter over the day; the others with fewer
				}
				v := url.Values{"from": {r[0]}, "to": {r[1]}, "size": {"7"}}
				for k, x := range f {
					v[k] = x
				}
				if q != "" {
					v.Set("q", q)
				}
				pages := 1
				if (ri == 3 || ri == 5) && qi < 2 {
					pages = 40 // page through it all
					v.Set("size", "20")
				}
				for page := 0; page < pages; page++ {
					got, n := runLocal(t, dir, v)
					want, m := runLocal(t, full, v)
					if q == "" && page == 0 {
						readIndexed, readFull = readIndexed+n, readFull+m
					}
					gotJSON, _ := json.Marshal(got)
					wantJSON, _ := json.Marshal(want)
					if string(gotJSON) != string(wantJSON) {
						t.Fatalf("%v:\nindexed   %s\nfull scan %s", v, gotJSON, wantJSON)
					}
					if !want.TotalExact || (want.Total == 0 && q == "" && len(f) == 0) {
						t.Fatalf("%v: the full scan is no reference: total %d, exact %v", v, want.Total, want.TotalExact)
					}
					compared++
					if got.After == "" {
						break
					}
					v.Set("after", got.After)
				}
			}
		}
	}
	t.Logf("%d answers compared; without query terms, the indexed searches read %d KiB, the full scans %d KiB", compared, readIndexed>>10, readFull>>10)
	if readIndexed*5 > readFull {
		t.Errorf("the indexed searches read %d bytes, the full scans %d: want a fifth at most", readIndexed, readFull)
	}
}

// When the bound on what is read runs out, the answer says so.
func TestSearchLocalBoundIsReported(t *testing.T) {
	dir := writeIndexTestFiles(t)
	req, _ := parseSearch(url.Values{"from": {"2026-12-02T00:00:00Z"}, "to": {"2026-12-05T00:00:00Z"}, "q": {"disk"}}, indexTestDay)
	q, _ := parseLocalQuery(req.query)
	pattern, _ := indexname.Parse(config.Default().ES.Index)
	s := newLocalSearch(req, q, 256<<10)
	if err := s.run(dir, pattern); err != nil {
		t.Fatal(err)
	}
	a := s.answer()
	if a.TotalExact || len(a.Warnings) != 1 || a.Total == 0 {
		t.Errorf("a word search over more than 256 KiB, bound to 256 KiB: total %d, exact %v, warnings %q", a.Total, a.TotalExact, a.Warnings)
	}
}

// Events of the same time in several files, their blocks as new as each
// other: pages of any size hold each event once, in the full scan's
// order (time, then event.id).
func TestSearchLocalIndexTies(t *testing.T) {
	cfg := config.Default()
	cfg.Brun.DataDir = t.TempDir()
	dir := cfg.LocalESDir()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	s, err := filestore.Open(dir, 30*24*time.Hour, indexTestDay, logrus.NewEntry(quiet))
	if err != nil {
		t.Fatal(err)
	}
	var docs []filestore.Doc
	for i := range 1600 {
		topic := []string{"web", "db", "auth", "mail"}[i%4]
		at := indexTestDay.Add(time.Duration(i/160) * time.Minute) // a block a minute in each file
		id := fmt.Sprintf("t-%04d", (i*37)%1600)
		docs = append(docs, filestore.Doc{Index: topic + "-2026.12.03", ID: id, Source: fmt.Appendf(nil,
			`{"@timestamp":%q,"message":"tie %d","log":{"level":"info"},"event":{"id":%q,"dataset":%q}}`, at.Format(time.RFC3339Nano), i, id, topic)})
	}
	if _, err := s.Write(docs, indexTestDay); err != nil {
		t.Fatal(err)
	}
	s.Close()
	full := fullScanCopy(t, dir)
	for _, size := range []string{"1", "39", "40", "41", "200"} {
		v := url.Values{"from": {"2026-12-03T00:00:00Z"}, "to": {"2026-12-04T00:00:00Z"}, "size": {size}}
		for page := 0; page < 50; page++ {
			got, _ := runLocal(t, dir, v)
			want, _ := runLocal(t, full, v)
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("%v:\nindexed   %s\nfull scan %s", v, gotJSON, wantJSON)
			}
			if got.After == "" {
				break
			}
			v.Set("after", got.After)
		}
	}
}
