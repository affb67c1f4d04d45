package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"brun/base/config"
	"brun/base/testkit"
)

// /api/search against the real Elasticsearch: every brun topic (through
// its alias), nothing of anyone else's, by word and by field, in a time
// range, filtered by level, with a histogram that sums to the total and
// pages that together hold every event once, newest first.
func TestSearchElasticsearch(t *testing.T) {
	testkit.Integration(t)
	w := newAPIWorldWith(t, func(c *config.Config) {
		c.ES.Endpoints = []string{testkit.ESURL}
		c.Console.KibanaURL = "https://kibana.example.com:5601"
	})
	run := testkit.Unique("srch")
	topics := []string{run + "-web", run + "-db"}
	foreign := "logstash-" + run + "-2026.12.03" // someone else's: never searched
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	t.Cleanup(func() {
		for _, tp := range topics {
			testkit.ES(t, "DELETE", "/_index_template/brun-"+tp, "", nil)
			testkit.ES(t, "DELETE", "/"+tp+"-2026.12.03?ignore_unavailable=true", "", nil)
		}
		testkit.ES(t, "DELETE", "/"+foreign+"?ignore_unavailable=true", "", nil)
	})
	for _, tp := range topics {
		// As the transfer installs it: exactly the topic's indices, an
		// alias named after the topic, brun's keywords.
		testkit.ES(t, "PUT", "/_index_template/brun-"+tp, fmt.Sprintf(`{"index_patterns":[%q],"priority":600,
			"_meta":{"managed_by":"brun","topic":%q},
			"template":{"aliases":{%q:{}},"settings":{"number_of_replicas":0},"mappings":{"properties":{
				"@timestamp":{"type":"date"},"message":{"type":"text"},
				"agent":{"properties":{"id":{"type":"keyword"}}},"event":{"properties":{"id":{"type":"keyword"},"dataset":{"type":"keyword"}}},
				"log":{"properties":{"level":{"type":"keyword"}}}}}}}`, tp+"-*.*.*", tp, tp), nil)
	}
	levels := []string{"info", "info", "warn", "error", "info"}
	var bulk strings.Builder
	n := 0
	for i := 0; i < 40; i++ {
		tp := topics[i%2]
		at := base.Add(time.Duration(i) * 90 * time.Second) // 09:00 to 09:58:30
		doc := map[string]any{
			"@timestamp": at.Format(time.RFC3339Nano), "message": fmt.Sprintf("request %d handled", i),
			"agent": map[string]any{"id": fmt.Sprintf("10.0.0.%d", i%3)}, "event": map[string]any{"id": fmt.Sprintf("e-%02d", i), "dataset": tp},
			"log": map[string]any{"level": levels[i%len(levels)]},
		}
		if i%10 == 7 {
			doc["message"] = fmt.Sprintf("disk full on /data (%d)", i)
		}
		src, _ := json.Marshal(doc)
		fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"e-%02d"}}`+"\n%s\n", tp+"-2026.12.03", i, src)
		n++
	}
	fmt.Fprintf(&bulk, `{"index":{"_index":%q}}`+"\n"+`{"@timestamp":"2026-12-03T09:30:00Z","message":"disk full elsewhere","log":{"level":"error"}}`+"\n", foreign)
	var res struct {
		Errors bool `json:"errors"`
	}
	testkit.ES(t, "POST", "/_bulk?refresh=true", bulk.String(), &res)
	if res.Errors {
		t.Fatal("_bulk of the fixtures had errors")
	}

	search := func(v url.Values) SearchAnswer {
		t.Helper()
		v.Set("from", "2026-12-03T09:00:00Z")
		if !v.Has("topic") {
			v["topic"] = topics // other tests' topics share the cluster
		}
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
		return a
	}
	sum := func(a SearchAnswer) (total int64) {
		for _, b := range a.Histogram {
			var byLevel int64
			for _, c := range b.Levels {
				byLevel += c
			}
			if byLevel != b.Count {
				t.Errorf("bucket %v: %d events, %d by level", b.Start, b.Count, byLevel)
			}
			total += b.Count
		}
		return total
	}

	all := search(url.Values{})
	if all.Total != int64(n) || !all.TotalExact || sum(all) != all.Total || all.Interval != "1m" || len(all.Histogram) != 60 {
		t.Errorf("all: total %d (exact %v), histogram sums to %d in %d bars of %s; want %d in 60 of 1m", all.Total, all.TotalExact, sum(all), len(all.Histogram), all.Interval, n)
	}
	if !strings.HasPrefix(all.Kibana, "https://kibana.example.com:5601/app/discover#/?_g=") || len(all.Hits) == 0 ||
		!strings.Contains(all.Hits[0].Kibana, url.PathEscape(`_id:"`+all.Hits[0].ID+`"`)) {
		t.Errorf("kibana links: view %q, first event %q", all.Kibana, all.Hits[0].Kibana)
	}
	if len(all.Facets["topic"]) != 2 || len(all.Facets["agent"]) != 3 {
		t.Errorf("facets: %+v", all.Facets)
	}

	words := search(url.Values{"q": {"disk full"}})
	if words.Total != 4 || sum(words) != 4 {
		t.Errorf("disk full: %d events, histogram %d; want 4 (and not the foreign index's)", words.Total, sum(words))
	}
	field := search(url.Values{"q": {"log.level:error AND agent.id:10.0.0.0"}})
	for _, h := range field.Hits {
		if !strings.Contains(string(h.Source), `"level":"error"`) || !strings.Contains(string(h.Source), `"10.0.0.0"`) {
			t.Errorf("log.level:error AND agent.id:10.0.0.0 found %s", h.Source)
		}
	}
	if field.Total == 0 {
		t.Error("log.level:error AND agent.id:10.0.0.0 found nothing")
	}
	errs := search(url.Values{"level": {"error"}})
	var wantErrors int64
	for _, f := range all.Facets["level"] {
		if f.Value == "error" {
			wantErrors = f.Count
		}
	}
	if errs.Total != wantErrors || wantErrors != 8 || sum(errs) != 8 {
		t.Errorf("level=error: %d events, facet said %d, histogram %d; want 8", errs.Total, wantErrors, sum(errs))
	}
	narrow := search(url.Values{"to": {"2026-12-03T09:15:00Z"}})
	if narrow.Total != 10 || narrow.Interval != "30s" || len(narrow.Histogram) != 30 || sum(narrow) != 10 {
		t.Errorf("09:00 to 09:15: %d events in %d bars of %s summing to %d; want 10 in 30 of 30s", narrow.Total, len(narrow.Histogram), narrow.Interval, sum(narrow))
	}
	one := search(url.Values{"topic": {topics[1]}})
	if one.Total != int64(n/2) {
		t.Errorf("topic %s: %d events, want %d", topics[1], one.Total, n/2)
	}

	// Pages of 7, newest first, hold every event once.
	seen := map[string]bool{}
	var last string
	v := url.Values{"size": {"7"}}
	for page := 0; page < 10; page++ {
		a := search(v)
		for _, h := range a.Hits {
			if seen[h.ID] {
				t.Errorf("%s on two pages", h.ID)
			}
			seen[h.ID] = true
			var d struct {
				Timestamp string `json:"@timestamp"`
			}
			json.Unmarshal(h.Source, &d)
			if last != "" && d.Timestamp > last {
				t.Errorf("%s (%s) after an older event", h.ID, d.Timestamp)
			}
			last = d.Timestamp
		}
		if page > 0 && a.Histogram != nil {
			t.Error("a later page carries the histogram again")
		}
		if a.After == "" {
			break
		}
		v.Set("after", a.After)
	}
	if len(seen) != n {
		t.Errorf("pages held %d events, want %d", len(seen), n)
	}

	resp, body := w.call("GET", "/api/search?from=later", "")
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"field":"from"`) {
		t.Errorf("bad from: %s %s", resp.Status, body)
	}
	// A query Elasticsearch refuses is the user's to fix: 400 naming q,
	// with Elasticsearch's reason.
	for _, q := range []string{"*disk", "message:(unclosed"} {
		resp, body = w.call("GET", "/api/search?from=2026-12-03T09:00:00Z&to=2026-12-03T10:00:00Z&topic="+topics[0]+"&q="+url.QueryEscape(q), "")
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"field":"q"`) {
			t.Errorf("q=%s: %s %s", q, resp.Status, body)
		}
	}
}
