package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/testkit"
	"brun/servers/filestore"
)

// surroundingDocs are 20 lines of one file of agent a1, and lines of
// another file and another agent at the same offsets, which must not
// show; written out of order, and line 12 twice (a replay).
func surroundingDocs(topic string) []filestore.Doc {
	var docs []filestore.Doc
	add := func(agent, path string, i int) {
		src, _ := json.Marshal(map[string]any{
			"@timestamp": time.Date(2026, 12, 3, 9, 0, i, 0, time.UTC).Format(time.RFC3339Nano),
			"message":    fmt.Sprintf("%s %s line %d", agent, path, i),
			"agent":      map[string]any{"id": agent}, "log": map[string]any{"file": map[string]any{"path": path}, "offset": i * 100},
			"event": map[string]any{"id": fmt.Sprintf("%s-%s-%d", agent, path, i)},
		})
		docs = append(docs, filestore.Doc{Index: topic + "-2026.12.03", ID: fmt.Sprintf("%s-%s-%d", agent, path, i), Source: src})
	}
	for _, i := range []int{5, 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19} {
		add("a1", "/var/log/app.log", i)
		add("a2", "/var/log/app.log", i)
		add("a1", "/var/log/other.log", i)
	}
	return docs
}

// checkSurrounding asks for 3 lines around offset 1000 (line 10) and
// wants lines 7, 8, 9 and 10, 11, 12 of a1's app.log.
func checkSurrounding(t *testing.T, w *apiWorld, topic, source string) {
	t.Helper()
	v := url.Values{"agent": {"a1"}, "path": {"/var/log/app.log"}, "topic": {topic}, "offset": {"1000"}, "n": {"3"}, "time": {"2026-12-03T09:00:10Z"}}
	resp, body := w.call("GET", "/api/surrounding?"+v.Encode(), "")
	var s Surrounding
	json.Unmarshal(body, &s)
	msgs := func(docs []json.RawMessage) string {
		var out []string
		for _, d := range docs {
			var m struct {
				Message string `json:"message"`
			}
			json.Unmarshal(d, &m)
			out = append(out, strings.TrimPrefix(m.Message, "a1 /var/log/app.log "))
		}
		return strings.Join(out, ", ")
	}
	if resp.StatusCode != 200 || s.Source != source || msgs(s.Before) != "line 7, line 8, line 9" || msgs(s.After) != "line 10, line 11, line 12" {
		t.Errorf("surrounding: %s %s\n before %s\n after  %s", resp.Status, s.Source, msgs(s.Before), msgs(s.After))
	}
	v.Set("offset", "0")
	_, body = w.call("GET", "/api/surrounding?"+v.Encode(), "")
	json.Unmarshal(body, &s)
	if msgs(s.Before) != "" || msgs(s.After) != "line 0, line 1, line 2" {
		t.Errorf("at the file's start: before %q after %q", msgs(s.Before), msgs(s.After))
	}
	for _, q := range []string{"agent=a1&path=/x&topic=t", "agent=a1&path=/x&topic=t&offset=-1", "path=/x&topic=t&offset=1", "agent=a1&path=/x&topic=t&offset=1&n=101"} {
		if resp, body := w.call("GET", "/api/surrounding?"+q, ""); resp.StatusCode != 400 {
			t.Errorf("%s: %s %s, want 400", q, resp.Status, body)
		}
	}
}

func TestSurroundingLocalFiles(t *testing.T) {
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
	docs := surroundingDocs("app")
	// A replay writes line 12 again, under a new id (another store).
	docs = append(docs, filestore.Doc{Index: docs[36].Index, ID: "replay", Source: docs[36].Source})
	if _, err := store.Write(docs, written); err != nil {
		t.Fatal(err)
	}
	checkSurrounding(t, w, "app", "files")
}

func TestSurroundingElasticsearch(t *testing.T) {
	testkit.Integration(t)
	w := newAPIWorldWith(t, func(c *config.Config) { c.ES.Endpoints = []string{testkit.ESURL} })
	topic := testkit.Unique("around")
	index := topic + "-2026.12.03"
	t.Cleanup(func() {
		testkit.ES(t, "DELETE", "/"+index+"?ignore_unavailable=true", "", nil)
	})
	testkit.ES(t, "PUT", "/"+index, fmt.Sprintf(`{"aliases":{%q:{}},"settings":{"number_of_replicas":0},"mappings":{"properties":{
		"@timestamp":{"type":"date"},"message":{"type":"text"},"agent":{"properties":{"id":{"type":"keyword"}}},
		"log":{"properties":{"file":{"properties":{"path":{"type":"keyword"}}},"offset":{"type":"long"}}}}}}`, topic), nil)
	var bulk strings.Builder
	for _, d := range surroundingDocs(topic) {
		fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":%q}}`+"\n%s\n", d.Index, d.ID, d.Source)
	}
	var res struct {
		Errors bool `json:"errors"`
	}
	testkit.ES(t, "POST", "/_bulk?refresh=true", bulk.String(), &res)
	if res.Errors {
		t.Fatal("_bulk of the fixtures had errors")
	}
	checkSurrounding(t, w, topic, "elasticsearch")
}
