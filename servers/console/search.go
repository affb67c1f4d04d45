package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"brun/base/esx"
	"brun/servers/indexname"
)

// Bounds of a search request: what one request may ask of Elasticsearch.
const (
	defaultSearchSize, maxSearchSize = 100, 500
	maxQueryBytes                    = 1024
	maxFilterValues                  = 20
	maxFilterValueBytes              = 256
	maxAfterBytes                    = 512
	// histogramBuckets is about how many bars the histogram has: the
	// interval is the first of searchIntervals that gives at most this many.
	histogramBuckets = 60
	// facetSize is how many values each facet (agent, topic, level) lists.
	facetSize = 20
	// defaultRange is the time range of a search that names none.
	defaultRange = 15 * time.Minute
)

// searchIntervals are the histogram's intervals, as Elasticsearch's
// fixed_interval writes them.
var searchIntervals = []struct {
	d    time.Duration
	name string
}{
	{time.Second, "1s"}, {5 * time.Second, "5s"}, {10 * time.Second, "10s"}, {30 * time.Second, "30s"},
	{time.Minute, "1m"}, {5 * time.Minute, "5m"}, {10 * time.Minute, "10m"}, {30 * time.Minute, "30m"},
	{time.Hour, "1h"}, {3 * time.Hour, "3h"}, {12 * time.Hour, "12h"}, {24 * time.Hour, "1d"}, {7 * 24 * time.Hour, "7d"},
}

// facetFields are the fields a search filters and counts by, with the
// request parameter of each.
var facetFields = []struct{ param, field string }{
	{"agent", "agent.id"}, {"topic", "event.dataset"}, {"level", "log.level"},
}

// searchRequest is a validated GET /api/search.
type searchRequest struct {
	query    string              // q: a query_string query ("" is every event)
	from, to time.Time           // [from, to)
	filters  map[string][]string // field -> values, any of which passes
	size     int
	after    []any // search_after: the sort values of the last event shown
	interval struct {
		d    time.Duration
		name string
	}
}

// parseSearch validates a search's parameters; now is the current time
// (to's default). Every problem is reported, by parameter.
func parseSearch(v url.Values, now time.Time) (searchRequest, []fieldError) {
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	r := searchRequest{query: strings.TrimSpace(v.Get("q")), size: defaultSearchSize, filters: map[string][]string{}}
	if len(r.query) > maxQueryBytes {
		bad("q", "is %d bytes; at most %d", len(r.query), maxQueryBytes)
	}
	r.to = now
	if s := v.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad("to", "%q is not an RFC 3339 time such as 2026-12-03T10:00:00Z", s)
		}
		r.to = t
	}
	r.from = r.to.Add(-defaultRange)
	if s := v.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad("from", "%q is not an RFC 3339 time such as 2026-12-03T10:00:00Z", s)
		}
		r.from = t
	}
	if !r.from.Before(r.to) {
		bad("from", "%s is not before to (%s)", r.from.Format(time.RFC3339Nano), r.to.Format(time.RFC3339Nano))
	}
	if s := v.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSearchSize {
			bad("size", "%q is not a number from 1 to %d", s, maxSearchSize)
		}
		r.size = n
	}
	for _, f := range facetFields {
		values := v[f.param]
		if len(values) > maxFilterValues {
			bad(f.param, "has %d values; at most %d", len(values), maxFilterValues)
			continue
		}
		for _, x := range values {
			if x == "" || len(x) > maxFilterValueBytes {
				bad(f.param, "a value is empty or longer than %d bytes", maxFilterValueBytes)
				continue
			}
			r.filters[f.field] = append(r.filters[f.field], x)
		}
	}
	if s := v.Get("after"); s != "" {
		if len(s) > maxAfterBytes || json.Unmarshal([]byte(s), &r.after) != nil || len(r.after) != 2 {
			bad("after", "is not the \"after\" of an earlier answer")
		} else {
			for _, x := range r.after {
				switch x.(type) {
				case float64, string, nil:
				default:
					bad("after", "is not the \"after\" of an earlier answer")
				}
			}
		}
	}
	span := r.to.Sub(r.from)
	r.interval = searchIntervals[len(searchIntervals)-1]
	for _, iv := range searchIntervals {
		if span <= iv.d*histogramBuckets {
			r.interval = iv
			break
		}
	}
	return r, errs
}

// esBody is the _search body of r: the events newest first (ties broken
// by event.id, which search_after needs to page without gaps), the exact
// total, and on the first page the histogram by level and the facets.
func (r searchRequest) esBody() []byte {
	body := r.esQuery(map[string]any{"range": map[string]any{"@timestamp": map[string]any{
		"gte": r.from.UTC().Format(time.RFC3339Nano), "lt": r.to.UTC().Format(time.RFC3339Nano),
	}}})
	if r.after != nil {
		body["search_after"] = r.after
	} else {
		aggs := map[string]any{
			"histogram": map[string]any{
				"date_histogram": map[string]any{
					"field": "@timestamp", "fixed_interval": r.interval.name, "min_doc_count": 0,
					"extended_bounds": map[string]any{"min": r.from.UnixMilli(), "max": r.to.UnixMilli() - 1},
				},
				"aggs": map[string]any{"levels": map[string]any{"terms": map[string]any{"field": "log.level", "size": 10, "missing": noLevel}}},
			},
		}
		for _, f := range facetFields {
			aggs[f.field] = map[string]any{"terms": map[string]any{"field": f.field, "size": facetSize}}
		}
		body["aggs"] = aggs
	}
	b, _ := json.Marshal(body)
	return b
}

// esQuery is the _search body of r's query and filters with the time
// filter when: the events newest first (ties broken by event.id, which
// search_after needs to page without gaps) and the exact total. The live
// tail (tail.go) shares it with another time filter.
func (r searchRequest) esQuery(when any) map[string]any {
	filter := []any{when}
	for _, f := range facetFields {
		if values := r.filters[f.field]; len(values) > 0 {
			filter = append(filter, map[string]any{"terms": map[string]any{f.field: values}})
		}
	}
	query := map[string]any{"filter": filter}
	if r.query != "" {
		query["must"] = map[string]any{"query_string": map[string]any{
			"query": r.query, "default_field": "message", "default_operator": "AND",
			// A leading wildcard scans every term of the field: refused.
			"allow_leading_wildcard": false,
		}}
	}
	return map[string]any{
		"size": r.size, "track_total_hits": true, "timeout": searchTimeout.String(),
		"query": map[string]any{"bool": query},
		"sort": []any{
			map[string]any{"@timestamp": map[string]any{"order": "desc"}},
			map[string]any{"event.id": map[string]any{"order": "desc", "unmapped_type": "keyword"}},
		},
	}
}

// noLevel stands for the events without log.level in the histogram.
const noLevel = "(none)"

// SearchAnswer is the answer of GET /api/search.
type SearchAnswer struct {
	Source string `json:"source"` // "elasticsearch" or "files"
	// Total is how many events match; TotalExact is false when it is a
	// lower bound.
	Total      int64       `json:"total"`
	TotalExact bool        `json:"total_exact"`
	Hits       []SearchHit `json:"hits"`
	// After pages on: pass it as after for the next older events; "" when
	// this page is the last.
	After string `json:"after"`
	// From, To and Interval are the range searched and the histogram's
	// bar width.
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Interval string    `json:"interval"`
	// Histogram and Facets come with the first page only.
	Histogram []Bucket                `json:"histogram,omitempty"`
	Facets    map[string][]FacetValue `json:"facets,omitempty"`
	// Warnings name what the search left out.
	Warnings []string `json:"warnings,omitempty"`
	// Kibana opens this view in Kibana Discover (console.kibana.url).
	Kibana string `json:"kibana,omitempty"`
}

// SearchHit is one event.
type SearchHit struct {
	Index  string          `json:"index"`
	ID     string          `json:"id"`
	Source json.RawMessage `json:"source"`
	// Kibana opens the event in Kibana Discover (console.kibana.url).
	Kibana string `json:"kibana,omitempty"`
}

// Bucket is one bar of the histogram: its start, and its events by level.
type Bucket struct {
	Start  time.Time        `json:"start"`
	Count  int64            `json:"count"`
	Levels map[string]int64 `json:"levels"`
}

// FacetValue is one value of a facet and how many events have it.
type FacetValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// esSearchAnswer is what the answer of esBody's _search holds.
type esSearchAnswer struct {
	TimedOut bool `json:"timed_out"`
	Shards   struct {
		Failed   int `json:"failed"`
		Failures []struct {
			Reason struct {
				Type     string `json:"type"`
				Reason   string `json:"reason"`
				CausedBy struct {
					Reason string `json:"reason"`
				} `json:"caused_by"`
			} `json:"reason"`
		} `json:"failures"`
	} `json:"_shards"`
	Hits struct {
		Total struct {
			Value    int64  `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Source json.RawMessage `json:"_source"`
			Sort   []any           `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]struct {
		Buckets []struct {
			Key         any    `json:"key"`
			KeyAsString string `json:"key_as_string"`
			DocCount    int64  `json:"doc_count"`
			Levels      struct {
				Buckets []struct {
					Key      string `json:"key"`
					DocCount int64  `json:"doc_count"`
				} `json:"buckets"`
			} `json:"levels"`
		} `json:"buckets"`
	} `json:"aggregations"`
}

// answer turns Elasticsearch's answer into the API's.
func (r searchRequest) answer(es esSearchAnswer) SearchAnswer {
	out := SearchAnswer{
		Source: "elasticsearch", Total: es.Hits.Total.Value, TotalExact: es.Hits.Total.Relation == "eq",
		Hits: []SearchHit{}, From: r.from.UTC(), To: r.to.UTC(), Interval: r.interval.name,
	}
	for _, h := range es.Hits.Hits {
		out.Hits = append(out.Hits, SearchHit{Index: h.Index, ID: h.ID, Source: h.Source})
	}
	if n := len(es.Hits.Hits); n == r.size && n > 0 {
		after, _ := json.Marshal(es.Hits.Hits[n-1].Sort)
		out.After = string(after)
	}
	if es.Shards.Failed > 0 {
		reason := ""
		if len(es.Shards.Failures) > 0 {
			f := es.Shards.Failures[0].Reason
			reason = ": " + cmp.Or(f.CausedBy.Reason, f.Reason)
		}
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d shard(s) failed, the answer is partial%s", es.Shards.Failed, reason))
	}
	if es.TimedOut {
		out.Warnings = append(out.Warnings, fmt.Sprintf("elasticsearch stopped after %v: the answer is partial", searchTimeout))
	}
	if r.after != nil {
		return out
	}
	out.Histogram = []Bucket{}
	for _, b := range es.Aggregations["histogram"].Buckets {
		ms, _ := b.Key.(float64)
		bk := Bucket{Start: time.UnixMilli(int64(ms)).UTC(), Count: b.DocCount, Levels: map[string]int64{}}
		for _, l := range b.Levels.Buckets {
			bk.Levels[l.Key] = l.DocCount
		}
		out.Histogram = append(out.Histogram, bk)
	}
	out.Facets = map[string][]FacetValue{}
	for _, f := range facetFields {
		values := []FacetValue{}
		for _, b := range es.Aggregations[f.field].Buckets {
			values = append(values, FacetValue{Value: fmt.Sprint(b.Key), Count: b.DocCount})
		}
		out.Facets[f.param] = values
	}
	return out
}

// search answers GET /api/search?q=&from=&to=&agent=&topic=&level=&size=&after=:
// the events of every brun topic in Elasticsearch (each topic's alias,
// which names exactly its indices), or in the local files when
// es.endpoints is empty (searchLocal), that match, newest first, with the
// histogram and facets on the first page.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	req, errs := parseSearch(r.URL.Query(), s.now())
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad search", Fields: errs})
		return
	}
	answerFromStore(s, w, r, "bad search", req.query,
		func(dir string, pattern *indexname.Pattern, q localQuery) (SearchAnswer, error) {
			return searchLocal(dir, pattern, req, q)
		},
		func(ctx context.Context, base string) (SearchAnswer, error) {
			out, err := s.searchAt(ctx, base, req)
			if k := s.cfg.Console.KibanaURL; k != "" && err == nil {
				out.Kibana = discoverURL(k, req, "")
				for i := range out.Hits {
					out.Hits[i].Kibana = discoverURL(k, req, out.Hits[i].ID)
				}
			}
			return out, err
		})
}

// answerFromStore writes the answer of a search-like request (refused,
// "bad search" or "bad tail", names what it is): from the local files
// (local, given query as local mode reads it) when es.endpoints is empty,
// else from the first Elasticsearch endpoint that answers (at). A query
// either store refuses is a 400 naming q; no endpoint answering, a 502.
func answerFromStore[A any](s *Server, w http.ResponseWriter, r *http.Request, refused, query string,
	local func(dir string, pattern *indexname.Pattern, q localQuery) (A, error),
	at func(ctx context.Context, base string) (A, error)) {
	badQuery := func(reason string) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: refused, Fields: []fieldError{{Field: "q", Reason: reason}}})
	}
	if s.cfg.LocalES() {
		q, err := parseLocalQuery(query)
		if err != nil {
			badQuery(err.Error())
			return
		}
		pattern, err := indexname.Parse(s.cfg.ES.Index)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		out, err := local(s.cfg.LocalESDir(), pattern, q)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout+2*time.Second)
	defer cancel()
	var errsES []string
	for _, base := range s.cfg.ES.Endpoints {
		out, err := at(ctx, base)
		if err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
		var se *esStatusError
		if errors.As(err, &se) && se.status == http.StatusBadRequest {
			badQuery(esReason(se.body)) // Elasticsearch refused the query: the user's to fix
			return
		}
		errsES = append(errsES, err.Error())
	}
	writeError(w, http.StatusBadGateway, "%s", strings.Join(errsES, "; "))
}

// searchAt runs req against one endpoint.
func (s *Server) searchAt(ctx context.Context, base string, req searchRequest) (SearchAnswer, error) {
	aliases, skipped, es, err := s.searchTopics(ctx, base, req.filters["event.dataset"], req.esBody())
	if err != nil {
		return SearchAnswer{}, err
	}
	out := req.answer(es)
	if len(aliases) == 0 && req.after == nil {
		out.Histogram = emptyHistogram(req)
	}
	for _, t := range skipped {
		out.Warnings = append(out.Warnings, fmt.Sprintf("topic %q is left out: its name can't be an Elasticsearch alias", t))
	}
	return out, nil
}

// searchTopics runs the _search body at base over the aliases of brun's
// topics (those of want, any case, or all when want is empty), and names
// the topics left out because no alias can name them. A query that
// Elasticsearch refuses is an *esStatusError of status 400.
func (s *Server) searchTopics(ctx context.Context, base string, want []string, body []byte) (aliases, skipped []string, es esSearchAnswer, err error) {
	topics, err := s.brunTopics(ctx, base)
	if err != nil {
		return nil, nil, es, err
	}
	for _, t := range topics {
		// Templates name their topic in lower case, as index names do.
		if len(want) > 0 && !slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(w, t) }) {
			continue
		}
		alias, ok := indexname.Alias(t)
		if !ok {
			skipped = append(skipped, t) // no alias: Elasticsearch refuses the name
			continue
		}
		aliases = append(aliases, url.PathEscape(alias))
	}
	if len(aliases) > 0 {
		path := "/" + strings.Join(aliases, ",") + "/_search?ignore_unavailable=true&allow_no_indices=true"
		if err := s.esJSON(ctx, base, http.MethodPost, path, body, &es); err != nil {
			return nil, nil, es, err
		}
	}
	if es.Shards.Failed > 0 && len(es.Hits.Hits) == 0 {
		for _, f := range es.Shards.Failures {
			if f.Reason.Type == "query_shard_exception" {
				// The query itself is refused on some indices (and those that
				// took it hold nothing): the user's to fix.
				body, _ := json.Marshal(map[string]any{"error": map[string]any{"reason": cmp.Or(f.Reason.CausedBy.Reason, f.Reason.Reason)}})
				return nil, nil, es, &esStatusError{status: http.StatusBadRequest, body: body, msg: string(body)}
			}
		}
	}
	return aliases, skipped, es, nil
}

// emptyHistogram is the histogram of a range without events.
func emptyHistogram(req searchRequest) []Bucket {
	out := []Bucket{}
	start := req.from.Truncate(req.interval.d)
	for t := start; t.Before(req.to) && len(out) <= 2*histogramBuckets; t = t.Add(req.interval.d) {
		out = append(out, Bucket{Start: t.UTC(), Levels: map[string]int64{}})
	}
	return out
}

// brunTopics lists the topics brun's transfers installed index templates
// for (the templates brun-<topic>, marked managed_by brun).
func (s *Server) brunTopics(ctx context.Context, base string) ([]string, error) {
	var answer esx.Templates
	err := s.esJSON(ctx, base, http.MethodGet, "/_index_template/"+esx.TemplatePrefix+"*", nil, &answer)
	var se *esStatusError
	if errors.As(err, &se) && se.status == http.StatusNotFound {
		return nil, nil // no template yet: nothing was written
	}
	if err != nil {
		return nil, err
	}
	return answer.Topics(), nil
}

// esReason is the reason Elasticsearch gives in an error answer, or the
// answer's start.
func esReason(body []byte) string {
	var e struct {
		Error struct {
			Reason    string `json:"reason"`
			RootCause []struct {
				Reason string `json:"reason"`
			} `json:"root_cause"`
			FailedShards []struct {
				Reason struct {
					Reason   string `json:"reason"`
					CausedBy struct {
						Reason string `json:"reason"`
					} `json:"caused_by"`
				} `json:"reason"`
			} `json:"failed_shards"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return fmt.Sprintf("elasticsearch refused it: %.300s", body)
	}
	reason := e.Error.Reason
	if fs := e.Error.FailedShards; len(fs) > 0 {
		// The first shard's cause says what is wrong with the query.
		reason = cmp.Or(fs[0].Reason.CausedBy.Reason, fs[0].Reason.Reason, reason)
	}
	if len(reason) > 300 {
		reason = reason[:300]
	}
	return "elasticsearch refused it: " + reason
}
