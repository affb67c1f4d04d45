package console

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSearch(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r, errs := parseSearch(url.Values{}, now)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !r.to.Equal(now) || !r.from.Equal(now.Add(-15*time.Minute)) || r.size != defaultSearchSize || r.interval.name != "30s" || r.after != nil {
		t.Errorf("defaults: %+v", r)
	}
	for _, c := range []struct {
		from, to, interval string
	}{
		{"2026-12-03T09:00:00Z", "2026-12-03T10:00:00Z", "1m"},
		{"2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z", "30m"},
		{"2026-11-26T10:00:00Z", "2026-12-03T10:00:00Z", "3h"},
		{"2026-12-03T09:59:00Z", "2026-12-03T10:00:00Z", "1s"},
		{"2016-12-03T09:59:00Z", "2026-12-03T10:00:00Z", "7d"},
	} {
		r, errs := parseSearch(url.Values{"from": {c.from}, "to": {c.to}}, now)
		if len(errs) > 0 || r.interval.name != c.interval {
			t.Errorf("%s to %s: interval %q %v, want %q", c.from, c.to, r.interval.name, errs, c.interval)
		}
	}
	r, errs = parseSearch(url.Values{"q": {"log.level:error AND disk"}, "agent": {"a1", "a2"}, "level": {"error"}, "size": {"10"}, "after": {`[1764756000000,"e-7"]`}}, now)
	if len(errs) > 0 || r.query != "log.level:error AND disk" || len(r.filters["agent.id"]) != 2 || r.filters["log.level"][0] != "error" || r.size != 10 || len(r.after) != 2 {
		t.Errorf("filters: %+v %v", r, errs)
	}
	many := url.Values{}
	for range maxFilterValues + 1 {
		many.Add("topic", "t")
	}
	for _, c := range []struct {
		v     url.Values
		field string
	}{
		{url.Values{"from": {"yesterday"}}, "from"},
		{url.Values{"to": {"2026-13-01T00:00:00Z"}}, "to"},
		{url.Values{"from": {"2026-12-03T10:00:00Z"}, "to": {"2026-12-03T09:00:00Z"}}, "from"},
		{url.Values{"size": {"0"}}, "size"},
		{url.Values{"size": {"501"}}, "size"},
		{url.Values{"q": {strings.Repeat("x", maxQueryBytes+1)}}, "q"},
		{many, "topic"},
		{url.Values{"level": {""}}, "level"},
		{url.Values{"agent": {strings.Repeat("a", maxFilterValueBytes+1)}}, "agent"},
		{url.Values{"after": {`{"a":1}`}}, "after"},
		{url.Values{"after": {`[1,2,3]`}}, "after"},
		{url.Values{"after": {`[{"x":1},"e"]`}}, "after"},
		{url.Values{"after": {"[" + strings.Repeat("1,", 300) + "1]"}}, "after"},
	} {
		_, errs := parseSearch(c.v, now)
		found := false
		for _, e := range errs {
			found = found || e.Field == c.field
		}
		if !found {
			t.Errorf("%v: errors %+v, want one for %s", c.v, errs, c.field)
		}
	}
}

// The first page asks for the histogram and facets, later pages only for
// events after the last one shown; every page has the same filters.
func TestSearchBody(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r, _ := parseSearch(url.Values{"q": {"disk"}, "level": {"error", "warn"}}, now)
	var first map[string]any
	json.Unmarshal(r.esBody(), &first)
	aggs, _ := first["aggs"].(map[string]any)
	if aggs["histogram"] == nil || aggs["agent.id"] == nil || aggs["event.dataset"] == nil || aggs["log.level"] == nil || first["search_after"] != nil {
		t.Errorf("first page: %v", first)
	}
	if first["track_total_hits"] != true {
		t.Errorf("the total is not exact: %v", first)
	}
	body := string(r.esBody())
	for _, want := range []string{`"query_string":{`, `"allow_leading_wildcard":false`, `"terms":{"log.level":["error","warn"]}`, `"gte":"2026-12-03T09:45:00Z","lt":"2026-12-03T10:00:00Z"`, `"fixed_interval":"30s"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	r2, _ := parseSearch(url.Values{"q": {"disk"}, "level": {"error", "warn"}, "after": {`[1764756000000,"e-7"]`}}, now)
	var next map[string]any
	json.Unmarshal(r2.esBody(), &next)
	if next["aggs"] != nil || next["search_after"] == nil || !reflectEqual(next["query"], first["query"]) {
		t.Errorf("next page: %v", next)
	}
}

func reflectEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A full page gives the cursor of its last event; a short one ends.
func TestSearchAnswer(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r, _ := parseSearch(url.Values{"size": {"2"}}, now)
	var es esSearchAnswer
	json.Unmarshal([]byte(`{"hits":{"total":{"value":5,"relation":"eq"},"hits":[
		{"_index":"app-2026.12.03","_id":"e-2","_source":{"message":"b"},"sort":[1764755000000,"e-2"]},
		{"_index":"app-2026.12.03","_id":"e-1","_source":{"message":"a"},"sort":[1764754000000,"e-1"]}]},
		"aggregations":{"histogram":{"buckets":[{"key":1764754000000,"doc_count":5,"levels":{"buckets":[{"key":"error","doc_count":2},{"key":"(none)","doc_count":3}]}}]},
		"log.level":{"buckets":[{"key":"error","doc_count":2}]}}}`), &es)
	a := r.answer(es)
	if a.Total != 5 || !a.TotalExact || len(a.Hits) != 2 || a.After != `[1764754000000,"e-1"]` {
		t.Errorf("answer: %+v", a)
	}
	if len(a.Histogram) != 1 || a.Histogram[0].Levels["error"] != 2 || a.Histogram[0].Levels[noLevel] != 3 || len(a.Facets["level"]) != 1 || a.Facets["agent"] == nil {
		t.Errorf("histogram %+v facets %+v", a.Histogram, a.Facets)
	}
	es.Hits.Hits = es.Hits.Hits[:1]
	if a := r.answer(es); a.After != "" {
		t.Errorf("a short page has after %q", a.After)
	}
}
