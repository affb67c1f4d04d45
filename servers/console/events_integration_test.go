package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"brun/base/config"
	"brun/base/testkit"
)

func TestJobEventsFromElasticsearch(t *testing.T) {
	testkit.Integration(t)
	w := newAPIWorldWith(t, func(c *config.Config) { c.ES.Endpoints = []string{testkit.ESURL} })
	// The topic is unique to the run; its indices are removed afterwards.
	topic := testkit.Unique("evt")
	w.put("job/a1/app", fmt.Sprintf(`{"path": "/var/log/app/*.log", "topic": %q}`, topic))
	var bulk strings.Builder
	indices := map[string]bool{}
	for i, f := range eventFixtures {
		index := strings.Replace(f.index, "app", topic, 1)
		indices[index] = true
		fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"e-%d"}}`+"\n%s\n", index, i, eventDoc(f.agent, f.path, f.msg, i))
	}
	t.Cleanup(func() {
		for index := range indices {
			testkit.ES(t, "DELETE", "/"+index+"?ignore_unavailable=true", "", nil)
		}
	})
	// The fields the query filters on are keywords, as brun's index
	// template (installed by the transfer) maps them.
	for index := range indices {
		testkit.ES(t, "PUT", "/"+index, `{"mappings":{"properties":{"@timestamp":{"type":"date"},"message":{"type":"text"},
			"agent":{"properties":{"id":{"type":"keyword"}}},
			"log":{"properties":{"file":{"properties":{"path":{"type":"keyword"}}},"offset":{"type":"long"}}}}}}`, nil)
	}
	var answer struct {
		Errors bool `json:"errors"`
	}
	testkit.ES(t, "POST", "/_bulk?refresh=true", bulk.String(), &answer)
	if answer.Errors {
		t.Fatal("_bulk of the fixtures had errors")
	}

	// Newest first by @timestamp; the words are matched by
	// Elasticsearch's analyzer.
	check := func(query string, want ...string) {
		t.Helper()
		res, body := w.call("GET", "/api/agents/a1/jobs/app/events"+query, "")
		var ev eventsBody
		json.Unmarshal(body, &ev)
		var got []string
		for _, e := range ev.Events {
			got = append(got, e.Message)
		}
		if res.StatusCode != 200 || ev.Source != "elasticsearch" || ev.Indices != topic+"-????.??.??" || strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("events%s: %s source %q indices %q\n  got  %q\n  want %q", query, res.Status, ev.Source, ev.Indices, got, want)
		}
	}
	check("", "INFO request handled", "WARN Disk Full soon", "ERROR disk full on /data", "INFO started")
	check("?q=disk+FULL", "WARN Disk Full soon", "ERROR disk full on /data")
	check("?size=1", "INFO request handled")
	w.eventsErrors()
}
