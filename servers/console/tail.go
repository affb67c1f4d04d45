package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"brun/servers/filestore"
	"brun/servers/indexname"
)

// Bounds of the live tail (GET /api/tail).
const (
	// tailLag is how long before since a tail looks: the time from an
	// agent reading a line to its document being found (Kafka, the
	// transfer's bulk, Elasticsearch's refresh). A document later than
	// that (Elasticsearch down for minutes while the transfer retries)
	// is missed by the tail; the search finds it.
	tailLag = time.Minute
	// maxTailLookback is how far back since may go: a tab that slept
	// asks from then on, not for everything since it fell asleep.
	maxTailLookback = 5 * time.Minute
	// maxTails is how many tail requests the console answers at once;
	// the others get 429 and poll again later.
	maxTails = 8
	// tailRetryAfter is the Retry-After of a 429.
	tailRetryAfter = "2"
	// tailScanBytes bounds how much of the local files one tail reads:
	// the page polls every few seconds.
	tailScanBytes = 16 << 20
)

// TailAnswer is the answer of GET /api/tail.
type TailAnswer struct {
	Source string `json:"source"` // "elasticsearch" or "files"
	// Hits are the events read since Since that match, newest first by
	// @timestamp, at most size; the page drops those it shows already
	// (by id: each window overlaps the one before by tailLag).
	Hits []SearchHit `json:"hits"`
	// Total is how many events of the window match: more than the hits
	// when size left some out.
	Total int64 `json:"total"`
	// Since is where the window starts (the request's since less
	// tailLag), in read time; Next is the since of the next request (the
	// console's clock when it answered).
	Since time.Time `json:"since"`
	Next  time.Time `json:"next"`
	// Warnings name what the tail left out.
	Warnings []string `json:"warnings,omitempty"`
}

// tailRequest is a validated GET /api/tail: a search whose window is in
// read time, not in @timestamp: from is since less tailLag, to is unused.
type tailRequest struct {
	searchRequest
	next time.Time
}

// parseTail validates a tail's parameters: those of a search (q, agent,
// topic, level, size) and since, the "next" of the tail's last answer
// (default now; clamped to [now-maxTailLookback, now]).
func parseTail(v url.Values, now time.Time) (tailRequest, []fieldError) {
	sv := url.Values{}
	for _, k := range []string{"q", "size", "agent", "topic", "level"} {
		if x, ok := v[k]; ok {
			sv[k] = x
		}
	}
	sr, errs := parseSearch(sv, now)
	since := now
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fieldError{Field: "since", Reason: fmt.Sprintf("%q is not an RFC 3339 time: pass the \"next\" of the last answer", s)})
		}
		since = t
	}
	if since.After(now) { // a cursor from a clock ahead
		since = now
	}
	if earliest := now.Add(-maxTailLookback); since.Before(earliest) {
		since = earliest
	}
	sr.from, sr.to = since.Add(-tailLag), now
	return tailRequest{searchRequest: sr, next: now}, errs
}

// esBody is the _search body of the tail: the search's query and filters,
// and the events read since from. The read time is event.created when the
// document has it (the transfer moves the read time there when it takes
// the line's own time as @timestamp, and the agent puts it there when a
// job pins the time), else @timestamp (which then is the read time). So
// the lines of an agent catching up on an old file, whose @timestamps are
// hours old, are found when they are read.
func (r tailRequest) esBody() []byte {
	since := r.from.UTC().Format(time.RFC3339Nano)
	read := map[string]any{"bool": map[string]any{"minimum_should_match": 1, "should": []any{
		map[string]any{"range": map[string]any{"event.created": map[string]any{"gte": since}}},
		map[string]any{"bool": map[string]any{
			"must_not": map[string]any{"exists": map[string]any{"field": "event.created"}},
			"filter":   map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gte": since}}},
		}},
	}}}
	b, _ := json.Marshal(r.esQuery(read))
	return b
}

// readTime is a document's read time, as esBody reads it: event.created,
// else @timestamp; zero when neither is a time.
func readTime(doc map[string]any) time.Time {
	for _, f := range []string{"event.created", "@timestamp"} {
		if s, ok := filestore.Lookup(doc, f).(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// tail answers GET /api/tail?q=&agent=&topic=&level=&size=&since=: the
// events of every brun topic that match the search and were read since
// since (less tailLag), from Elasticsearch or the local files. The page
// polls it while Live is on, passing each answer's next as since. At most
// maxTails are answered at once (else 429 with Retry-After).
func (s *Server) tail(w http.ResponseWriter, r *http.Request) {
	select {
	case s.tails <- struct{}{}:
		defer func() { <-s.tails }()
	default:
		w.Header().Set("Retry-After", tailRetryAfter)
		writeError(w, http.StatusTooManyRequests, "%d live tails are being answered; poll again in %s s", maxTails, tailRetryAfter)
		return
	}
	req, errs := parseTail(r.URL.Query(), s.now())
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad tail", Fields: errs})
		return
	}
	answerFromStore(s, w, r, "bad tail", req.query,
		func(dir string, pattern *indexname.Pattern, q localQuery) (TailAnswer, error) {
			return tailLocal(dir, pattern, req, q)
		},
		func(ctx context.Context, base string) (TailAnswer, error) { return s.tailAt(ctx, base, req) })
}

// tailAt runs req against one endpoint.
func (s *Server) tailAt(ctx context.Context, base string, req tailRequest) (TailAnswer, error) {
	_, skipped, es, err := s.searchTopics(ctx, base, req.filters["event.dataset"], req.esBody())
	if err != nil {
		return TailAnswer{}, err
	}
	out := req.answer("elasticsearch")
	out.Total = es.Hits.Total.Value
	for _, h := range es.Hits.Hits {
		out.Hits = append(out.Hits, SearchHit{Index: h.Index, ID: h.ID, Source: h.Source})
	}
	if es.Shards.Failed > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d shard(s) failed, the answer is partial", es.Shards.Failed))
	}
	if es.TimedOut {
		out.Warnings = append(out.Warnings, fmt.Sprintf("elasticsearch stopped after %v: the answer is partial", searchTimeout))
	}
	for _, t := range skipped {
		out.Warnings = append(out.Warnings, fmt.Sprintf("topic %q is left out: its name can't be an Elasticsearch alias", t))
	}
	return out, nil
}

// answer is an empty answer of req from source.
func (r tailRequest) answer(source string) TailAnswer {
	return TailAnswer{Source: source, Hits: []SearchHit{}, Since: r.from.UTC(), Next: r.next.UTC()}
}

// tailLocal answers req from the local files under dir: the documents of
// the day directories from the window's start on (a document is written
// after it is read), newest written first, at most tailScanBytes; those
// read in the window that match, the size newest by @timestamp kept.
func tailLocal(dir string, pattern *indexname.Pattern, req tailRequest, q localQuery) (TailAnswer, error) {
	out := req.answer("files")
	topics := req.filters["event.dataset"]
	index := func(name string) bool {
		if strings.HasPrefix(name, "deadletter-") {
			return false
		}
		return len(topics) == 0 || slices.ContainsFunc(topics, func(t string) bool { return pattern.MatchTopic(t, name) })
	}
	var page []localDoc
	cut, err := filestore.Each(dir, index, req.from, tailScanBytes, func(raw []byte) bool {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) != nil {
			return true
		}
		if read := readTime(doc); read.IsZero() || read.Before(req.from) {
			return true
		}
		for _, f := range facetFields {
			if want := req.filters[f.field]; len(want) > 0 && !slices.Contains(want, filestore.Field(doc, f.field)) {
				return true
			}
		}
		if !q.matches(doc) {
			return true
		}
		out.Total++
		ts, _ := doc["@timestamp"].(string)
		at, _ := time.Parse(time.RFC3339Nano, ts)
		page = keepNewest(page, req.size, localDoc{at: at, id: filestore.Field(doc, "event.id")}, raw)
		return true
	})
	if err != nil {
		return out, err
	}
	for _, d := range page {
		out.Hits = append(out.Hits, SearchHit{ID: d.id, Source: d.raw})
	}
	if cut {
		out.Warnings = append(out.Warnings, fmt.Sprintf("only the newest %d MiB of the local files were read: events read earlier in the window may be left out", tailScanBytes>>20))
	}
	return out, nil
}
