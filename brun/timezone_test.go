package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"brun/base/testkit"
)

// A line whose time has no zone, written on a host in Asia/Shanghai (the
// agent runs with TZ=Asia/Shanghai), lands at the right UTC instant, with
// event.timezone saying which zone it was read in; a job's timezone
// overrides the host's.
func TestZonelessTimesAreReadInTheHostsZone(t *testing.T) {
	testkit.Integration(t)
	if _, err := time.LoadLocation("Asia/Shanghai"); err != nil {
		t.Skip("no zoneinfo: ", err)
	}
	dir := t.TempDir()
	run := testkit.Unique("tz")
	prefix, agentID, topic := "/"+run+"/", "agent-"+run, run
	conf := pipelineConf(t, dir, agentID, prefix, run, "")
	t.Setenv("TZ", "Asia/Shanghai") // brun inherits it
	p := testkit.StartBrun(t, conf)

	hostFile, jobFile := filepath.Join(dir, "host.log"), filepath.Join(dir, "job.log")
	writeFile(t, hostFile, "")
	writeFile(t, jobFile, "")
	testkit.Etcdctl(t, "put", prefix+"job/"+agentID+"/host", fmt.Sprintf(`{"path": %q, "topic": %q}`, hostFile, topic))
	testkit.Etcdctl(t, "put", prefix+"job/"+agentID+"/paris", fmt.Sprintf(`{"path": %q, "topic": %q, "timezone": "+02:00"}`, jobFile, topic))
	p.WaitLog(30*time.Second, "reading "+hostFile)
	p.WaitLog(30*time.Second, "reading "+jobFile)
	appendText(t, hostFile, "2026-11-24 23:59:58,123 INFO written in Shanghai\n")
	appendText(t, jobFile, "2026-11-24 23:59:58,123 INFO written at +02:00\n")

	index := topic + "-*"
	for _, c := range []struct{ text, ts, zone string }{
		{"written in Shanghai", "2026-11-24T15:59:58.123Z", "Asia/Shanghai"},
		{"written at +02:00", "2026-11-24T21:59:58.123Z", "+02:00"},
	} {
		waitDoc(t, index, c.text)
		var hits struct {
			Hits struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		testkit.ES(t, "POST", "/"+index+"/_search", fmt.Sprintf(`{"query":{"match_phrase":{"message":%q}}}`, c.text), &hits)
		if len(hits.Hits.Hits) != 1 {
			t.Fatalf("%q: %d documents, want 1", c.text, len(hits.Hits.Hits))
		}
		src := hits.Hits.Hits[0].Source
		if got := field(src, "@timestamp"); got != c.ts {
			t.Errorf("%q: @timestamp %v, want %s", c.text, got, c.ts)
		}
		if got := field(src, "event.timezone"); got != c.zone {
			t.Errorf("%q: event.timezone %v, want %s", c.text, got, c.zone)
		}
	}
}
