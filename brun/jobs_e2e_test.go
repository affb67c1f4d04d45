package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brun/base/testkit"
)

// The job options a user reaches for first, end to end against the real
// Kafka and Elasticsearch: a JSON log line's own time, level and message;
// include_lines and exclude_lines; start: end; ignore_older; "**"; and
// pinned formats: a JSON line's keys named by the job, and a plain line's
// time and level found by the job's layout and patterns.
func TestJobOptionsEndToEnd(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	run := testkit.Unique("jobs")
	prefix, agentID, topic := "/"+run+"/", "agent-"+run, run
	conf := pipelineConf(t, dir, agentID, prefix, run, "")

	jsonLog := filepath.Join(dir, "json.log")
	filtered := filepath.Join(dir, "filtered.log")
	tailed := filepath.Join(dir, "tailed.log")
	olderDir := filepath.Join(dir, "older")
	deepDir := filepath.Join(dir, "deep")
	for _, d := range []string{olderDir, filepath.Join(deepDir, "a", "b")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, jsonLog, "")
	pinnedJSON, pinnedPlain := filepath.Join(dir, "pinned.json"), filepath.Join(dir, "pinned.log")
	writeFile(t, pinnedJSON, "")
	writeFile(t, pinnedPlain, "")
	writeFile(t, filtered, "")
	writeFile(t, tailed, "old line before the job\n")
	ancient, fresh := filepath.Join(olderDir, "ancient.log"), filepath.Join(olderDir, "fresh.log")
	writeFile(t, ancient, "ancient line\n")
	writeFile(t, fresh, "fresh line\n")
	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(ancient, twoDaysAgo, twoDaysAgo); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(deepDir, "top.log"), "deep line at the top\n")
	writeFile(t, filepath.Join(deepDir, "a", "b", "nested.log"), "deep line two levels down\n")

	p := testkit.StartBrun(t, conf)
	jobs := map[string]string{
		"json":     fmt.Sprintf(`{"path": %q, "topic": %q, "json": true}`, jsonLog, topic),
		"filtered": fmt.Sprintf(`{"path": %q, "topic": %q, "include_lines": ["^keep"], "exclude_lines": ["secret"]}`, filtered, topic),
		"tailed":   fmt.Sprintf(`{"path": %q, "topic": %q, "start": "end"}`, tailed, topic),
		"older":    fmt.Sprintf(`{"path": %q, "topic": %q, "ignore_older": "24h"}`, filepath.Join(olderDir, "*.log"), topic),
		"deep":     fmt.Sprintf(`{"path": %q, "topic": %q}`, filepath.Join(deepDir, "**", "*.log"), topic),
		"pinned-json": fmt.Sprintf(`{"path": %q, "topic": %q, "json": true, "timezone": "Asia/Shanghai",
			"timestamp": {"layout": "02/01/2006 15:04:05", "field": "when"}, "level": {"field": "sev"}, "message": {"field": "text"}}`, pinnedJSON, topic),
		"pinned-plain": fmt.Sprintf(`{"path": %q, "topic": %q, "timezone": "+01:00",
			"timestamp": {"layout": "02.01.2006 15h04m05", "pattern": "at <([^>]+)>"}, "level": {"pattern": "\\[\\[(\\w)\\]\\]"}}`, pinnedPlain, topic),
	}
	for name, spec := range jobs {
		testkit.Etcdctl(t, "put", prefix+"job/"+agentID+"/"+name, spec)
	}
	p.WaitLog(30*time.Second, "reading "+tailed)
	p.WaitLog(30*time.Second, "reading "+jsonLog)
	p.WaitLog(30*time.Second, "reading "+filtered)
	p.WaitLog(30*time.Second, "reading "+pinnedJSON)
	p.WaitLog(30*time.Second, "reading "+pinnedPlain)

	appendText(t, jsonLog, `{"ts":"2026-11-24T10:00:00.250Z","level":"WARN","msg":"json hello","user":"bob"}`+"\n")
	appendText(t, filtered, "keep 1\ndrop 2\nkeep secret 3\nkeep 4\n")
	appendText(t, tailed, "new line after the job\n")
	// "ts" and "level" are what recognition would take; the job's keys win.
	pinnedLine := `{"when":"24/11/2026 18:00:01","sev":"E","text":"custom keys greeting","ts":"2020-01-01T00:00:00Z","level":"info"}`
	appendText(t, pinnedJSON, pinnedLine+"\n")
	appendText(t, pinnedPlain, "host-7 req=42 at <24.11.2026 11h00m02> [[W]] custom pattern greeting\n")

	index := topic + "-*"
	for _, text := range []string{"json hello", "keep 1", "keep 4", "new line after the job", "fresh line", "deep line at the top", "deep line two levels down", "custom keys greeting", "custom pattern greeting"} {
		waitDoc(t, index, text)
	}
	// Each of these was before a line that arrived, in its file or in its
	// job's first scan: had it been shipped, it would be there by now.
	for _, text := range []string{"drop 2", "keep secret 3", "old line before the job", "ancient line"} {
		if n := countPhrase(t, index, text); n != 0 {
			t.Errorf("%q: %d documents, want none", text, n)
		}
	}
	src := onlyDoc(t, index, "json hello")
	for path, want := range map[string]any{
		"@timestamp": "2026-11-24T10:00:00.250Z", "log.level": "warn", "message": "json hello",
		"event.original": `{"ts":"2026-11-24T10:00:00.250Z","level":"WARN","msg":"json hello","user":"bob"}`,
		"json.user":      "bob",
	} {
		if got := field(src, path); got != want {
			t.Errorf("json line: %s = %v, want %v", path, got, want)
		}
	}
	for text, want := range map[string]map[string]any{
		"custom keys greeting": {
			"@timestamp": "2026-11-24T10:00:01.000Z", "log.level": "error", "message": "custom keys greeting",
			"event.original": pinnedLine, "event.timezone": "Asia/Shanghai", "json.sev": "E",
		},
		"custom pattern greeting": {
			"@timestamp": "2026-11-24T10:00:02.000Z", "log.level": "warn", "event.timezone": "+01:00",
			"message": "host-7 req=42 at <24.11.2026 11h00m02> [[W]] custom pattern greeting",
		},
	} {
		src := onlyDoc(t, index, text)
		for path, w := range want {
			if got := field(src, path); got != w {
				t.Errorf("%s: %s = %v, want %v", text, path, got, w)
			}
		}
		if field(src, "event.created") == nil {
			t.Errorf("%s: no event.created (the read time, kept beside the pinned @timestamp)", text)
		}
	}
}

func countPhrase(t *testing.T, index, text string) int {
	t.Helper()
	testkit.ES(t, "POST", "/"+index+"/_refresh", "", nil)
	var r struct {
		Count int `json:"count"`
	}
	q, _ := json.Marshal(map[string]any{"query": map[string]any{"match_phrase": map[string]any{"message": text}}})
	testkit.ES(t, "POST", "/"+index+"/_count", string(q), &r)
	return r.Count
}

func onlyDoc(t *testing.T, index, text string) map[string]any {
	t.Helper()
	var hits struct {
		Hits struct {
			Hits []struct {
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q, _ := json.Marshal(map[string]any{"query": map[string]any{"match_phrase": map[string]any{"message": text}}})
	testkit.ES(t, "POST", "/"+index+"/_search", string(q), &hits)
	if len(hits.Hits.Hits) != 1 {
		t.Fatalf("%q: %d documents, want 1", text, len(hits.Hits.Hits))
	}
	return hits.Hits.Hits[0].Source
}
