package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/servers/filestore"
)

// /api/search in local mode reads the transfer's local files with the
// same answer as over Elasticsearch: field:value terms and words, time
// range, filters, a histogram that sums to the total, facets, and pages
// that together hold every event once, newest first.
func TestSearchLocalFiles(t *testing.T) {
	dataDir := t.TempDir()
	w := newAPIWorldWith(t, func(c *config.Config) { c.Brun.DataDir, c.ES.Endpoints = dataDir, nil })
	cfg := config.Default()
	cfg.Brun.DataDir = dataDir
	written := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	store, err := filestore.Open(cfg.LocalESDir(), 24*time.Hour, written, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	levels := []string{"info", "info", "warn", "error", "info"}
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	var docs []filestore.Doc
	for i := 0; i < 40; i++ {
		topic := []string{"web", "db"}[i%2]
		msg := fmt.Sprintf("request %d handled", i)
		if i%10 == 7 {
			msg = fmt.Sprintf("disk full on /data (%d)", i)
		}
		src, _ := json.Marshal(map[string]any{
			"@timestamp": base.Add(time.Duration(i) * 90 * time.Second).Format(time.RFC3339Nano), "message": msg,
			"agent": map[string]any{"id": fmt.Sprintf("10.0.0.%d", i%3)}, "event": map[string]any{"id": fmt.Sprintf("e-%02d", i), "dataset": topic},
			"log": map[string]any{"level": levels[i%len(levels)]},
		})
		docs = append(docs, filestore.Doc{Index: topic + "-2026.12.03", ID: fmt.Sprintf("e-%02d", i), Source: src})
	}
	// Written out of time order, as replays and slow agents do.
	docs[5], docs[30] = docs[30], docs[5]
	if _, err := store.Write(docs, written); err != nil {
		t.Fatal(err)
	}
	search := func(v url.Values) SearchAnswer {
		t.Helper()
		v.Set("from", "2026-12-03T09:00:00Z")
		if v.Get("to") == "" {
			v.Set("to", "2026-12-03T10:00:00Z")
		}
		resp, body := w.call("GET", "/api/search?"+v.Encode(), "")
		if resp.StatusCode != 200 {
			t.Fatalf("search %v: %s\n%s", v, resp.Status, body)
		}
		var a SearchAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if a.Source != "files" {
			t.Fatalf("source %q", a.Source)
		}
		return a
	}
	sum := func(a SearchAnswer) (n int64) {
		for _, b := range a.Histogram {
			n += b.Count
		}
		return n
	}
	all := search(url.Values{})
	if all.Total != 40 || sum(all) != 40 || len(all.Facets["topic"]) != 2 || len(all.Facets["agent"]) != 3 || all.Interval != "1m" {
		t.Errorf("all: %d events, histogram %d, facets %+v, interval %s", all.Total, sum(all), all.Facets, all.Interval)
	}
	for q, want := range map[string]int64{
		"disk full": 4, `"disk full"`: 4, "log.level:error": 8, "log.level:error AND agent.id:10.0.0.0": 3,
		"event.dataset:db disk": 4, "event.dataset:web disk": 0, "message:disk": 4, "nothing-like-this": 0,
	} {
		if a := search(url.Values{"q": {q}}); a.Total != want || sum(a) != want {
			t.Errorf("q=%s: %d events, histogram %d; want %d", q, a.Total, sum(a), want)
		}
	}
	if a := search(url.Values{"level": {"warn"}, "topic": {"web"}}); a.Total != 4 {
		t.Errorf("level=warn topic=web: %d events, want 4", a.Total)
	}
	if a := search(url.Values{"to": {"2026-12-03T09:15:00Z"}}); a.Total != 10 || sum(a) != 10 {
		t.Errorf("09:00 to 09:15: %d events, histogram %d; want 10", a.Total, sum(a))
	}
	seen := map[string]bool{}
	last := ""
	v := url.Values{"size": {"7"}}
	for page := 0; page < 10; page++ {
		a := search(v)
		for _, h := range a.Hits {
			var d struct {
				Timestamp string `json:"@timestamp"`
			}
			json.Unmarshal(h.Source, &d)
			if seen[h.ID] || (last != "" && d.Timestamp > last) {
				t.Errorf("%s (%s): seen before, or after an older event", h.ID, d.Timestamp)
			}
			seen[h.ID], last = true, d.Timestamp
		}
		if a.After == "" {
			break
		}
		v.Set("after", a.After)
	}
	if len(seen) != 40 {
		t.Errorf("pages held %d events, want 40", len(seen))
	}
	for _, q := range []string{"disk OR full", "NOT disk", "(disk)", `"unclosed`} {
		resp, body := w.call("GET", "/api/search?q="+url.QueryEscape(q), "")
		if resp.StatusCode != 400 {
			t.Errorf("q=%s: %s %s, want 400", q, resp.Status, body)
		}
	}
}
