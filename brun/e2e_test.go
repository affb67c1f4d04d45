package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brun/base/testkit"
	"brun/servers/event"
)

// A user's day: put a job with etcdctl, append 10,000 lines, find exactly
// 10,000 documents in Elasticsearch with the expected fields; delete the
// job, and lines appended afterwards are not shipped.
func TestUserDayEndToEnd(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	run := testkit.Unique("e2e")
	prefix := "/" + run + "/"
	agentID := "agent-" + run
	topic := run
	logFile := filepath.Join(dir, "app.log")

	conf := pipelineConf(t, dir, agentID, prefix, run, "nums = 2")

	p := testkit.StartBrun(t, conf)
	// The file exists, empty, before the job: every line appended is new.
	writeFile(t, logFile, "")
	jobKey := prefix + "job/" + agentID + "/app"
	testkit.Etcdctl(t, "put", jobKey, fmt.Sprintf(`{"path": %q, "topic": %q}`, logFile, topic))
	p.WaitLog(30*time.Second, "reading "+logFile)

	appendLines(t, logFile, 0, 10000)
	index := topic + "-*"
	testkit.WaitFor(t, 120*time.Second, "10,000 documents in "+index, func() bool {
		return testkit.ESCount(t, index) >= 10000
	})
	// Exactly: once a marker written after them is stored, there are still
	// no more than 10,000 of them.
	appendText(t, logFile, "marker after the 10,000 lines\n")
	waitDoc(t, index, "marker after the 10,000 lines")
	if n := testkit.ESCount(t, index); n != 10001 {
		t.Fatalf("%s holds %d documents, want exactly the 10000 lines and the marker", index, n)
	}

	var hits struct {
		Hits struct {
			Hits []struct {
				Index  string         `json:"_index"`
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	testkit.ES(t, "POST", "/"+index+"/_search", `{"query":{"match_phrase":{"message":"seq=000042"}}}`, &hits)
	if len(hits.Hits.Hits) != 1 {
		t.Fatalf("search for seq=000042 found %d documents, want 1", len(hits.Hits.Hits))
	}
	doc := hits.Hits.Hits[0]
	src := doc.Source
	// The line's own time becomes @timestamp and names the index; the
	// time it was read is kept in event.created.
	wantIndex := topic + "-" + lineDay
	if doc.Index != wantIndex {
		t.Errorf("index %q, want %q", doc.Index, wantIndex)
	}
	if src["message"] != line(42) {
		t.Errorf("message %q, want %q", src["message"], line(42))
	}
	if ts := field(src, "@timestamp"); ts != lineTime {
		t.Errorf("@timestamp %v, want the line's time %s", ts, lineTime)
	}
	if ts, _ := field(src, "event.created").(string); ts == "" {
		t.Errorf("no event.created in %v", src)
	} else if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("event.created %q: %v", ts, err)
	}
	hostName, _ := os.Hostname()
	checks := map[string]any{
		"host.name":     hostName,
		"host.hostname": hostName,
		"agent.id":      agentID,
		"agent.type":    "brun",
		"agent.name":    hostName,
		"ecs.version":   event.ECSVersion,
		"input.type":    "log",
		"event.dataset": topic,
		"log.file.path": logFile,
		"log.offset":    float64(42 * len(line(0)+"\n")),
	}
	for path, want := range checks {
		if got := field(src, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for _, path := range []string{"agent.version", "event.timezone"} {
		if v, _ := field(src, path).(string); v == "" {
			t.Errorf("%s is missing: %v", path, src)
		}
	}
	// ECS types: the template maps every field the agent writes.
	var mapping map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	testkit.ES(t, "GET", "/"+doc.Index+"/_mapping", "", &mapping)
	props := mapping[doc.Index].Mappings
	for path, want := range map[string]string{
		"host.ip": "ip", "host.hostname": "keyword", "agent.type": "keyword", "agent.name": "keyword",
		"agent.version": "keyword", "ecs.version": "keyword", "input.type": "keyword",
		"event.dataset": "keyword", "event.timezone": "keyword", "log.offset": "long", "@timestamp": "date",
	} {
		typ := field(props, "properties."+strings.ReplaceAll(path, ".", ".properties.")+".type")
		if typ != want {
			t.Errorf("%s is mapped as %v, want %s", path, typ, want)
		}
	}
	if id, _ := field(src, "event.id").(string); id != doc.ID {
		t.Errorf("event.id %q is not the document _id %q", id, doc.ID)
	}

	// Delete the job: what is appended afterwards stays out of ES. A marker
	// from another job, written after those lines, shows the pipeline went
	// on shipping meanwhile.
	testkit.Etcdctl(t, "del", jobKey)
	p.WaitLog(30*time.Second, "stopping job app")
	appendLines(t, logFile, 10000, 100)
	markerFile := filepath.Join(dir, "marker.log")
	writeFile(t, markerFile, "marker after the deleted job's lines\n")
	testkit.Etcdctl(t, "put", prefix+"job/"+agentID+"/marker", fmt.Sprintf(`{"path": %q, "topic": %q}`, markerFile, topic))
	waitDoc(t, index, "marker after the deleted job's lines")
	if n := testkit.ESCount(t, index); n != 10002 {
		t.Fatalf("after the job was deleted %s holds %d documents, want still the 10001 and the second marker", index, n)
	}

	p.Stop(30 * time.Second)
}

// Every test line carries this time, so the index it lands in is fixed.
const (
	lineTime = "2026-11-25T04:05:06.789Z"
	lineDay  = "2026.11.25"
)

func line(seq int) string {
	return fmt.Sprintf("2026-11-25 04:05:06,789 INFO [main] request handled seq=%06d", seq)
}

func appendLines(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := from; i < from+n; i++ {
		w.WriteString(line(i) + "\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// waitDoc waits until a document whose message is text is searchable in
// index.
func waitDoc(t *testing.T, index, text string) {
	t.Helper()
	testkit.WaitFor(t, 120*time.Second, "the document "+text+" in "+index, func() bool {
		testkit.ES(t, "POST", "/"+index+"/_refresh", "", nil)
		var r struct {
			Count int `json:"count"`
		}
		q, _ := json.Marshal(map[string]any{"query": map[string]any{"match_phrase": map[string]any{"message": text}}})
		testkit.ES(t, "POST", "/"+index+"/_count", string(q), &r)
		return r.Count > 0
	})
}

func appendText(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// pipelineConf writes dir/brun.ini for one brun running the agent and the
// transfer against the test etcd (under prefix), Kafka and Elasticsearch,
// as agentID and in consumer group group; esExtra is added to [es].
// es.retention is off: the tests write lines of fixed days, which a later
// run date would put past any retention.
func pipelineConf(t *testing.T, dir, agentID, prefix, group, esExtra string) string {
	t.Helper()
	conf := filepath.Join(dir, "brun.ini")
	writeFile(t, conf, fmt.Sprintf(`
[brun]
roles = agent,transfer
data.dir = %s/data
[agent]
id = %s
[etcd]
endpoints = %s
prefix = %s
[kafka]
endpoints = %s
[es]
endpoints = %s
retention =
%s
[transfer]
group = %s
[log]
dir =
level = info
`, dir, agentID, testkit.EtcdAddr, prefix, testkit.KafkaAddr, testkit.ESURL, esExtra, group))
	return conf
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// field reads a dotted path ("log.file.path") from a decoded document.
func field(src map[string]any, path string) any {
	var cur any = src
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	if n, ok := cur.(json.Number); ok {
		f, _ := n.Float64()
		return f
	}
	return cur
}
