package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"brun/servers/filestore"
	"brun/servers/indexname"
)

// defaultSurrounding and maxSurrounding bound how many lines before and
// after an event GET /api/surrounding shows.
const defaultSurrounding, maxSurrounding = 10, 100

// Surrounding is the answer of GET /api/surrounding: the events of one
// file of one agent around an offset, in file order.
type Surrounding struct {
	Source string `json:"source"`
	// Before are the events that start before offset, After those that
	// start at or after it (the event itself first).
	Before []json.RawMessage `json:"before"`
	After  []json.RawMessage `json:"after"`
}

// surroundingRequest is a validated GET /api/surrounding.
type surroundingRequest struct {
	agent, path, topic string
	offset             int64
	n                  int
	// since bounds the local files read: the event's time less a day.
	since time.Time
}

func parseSurrounding(v url.Values) (surroundingRequest, []fieldError) {
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	r := surroundingRequest{agent: v.Get("agent"), path: v.Get("path"), topic: v.Get("topic"), n: defaultSurrounding}
	for _, f := range []struct{ name, value string }{{"agent", r.agent}, {"path", r.path}, {"topic", r.topic}} {
		if f.value == "" || len(f.value) > 4096 {
			bad(f.name, "is required, at most 4096 bytes")
		}
	}
	off, err := strconv.ParseInt(v.Get("offset"), 10, 64)
	if err != nil || off < 0 {
		bad("offset", "%q is not a file offset (log.offset)", v.Get("offset"))
	}
	r.offset = off
	if s := v.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSurrounding {
			bad("n", "%q is not a number from 1 to %d", s, maxSurrounding)
		}
		r.n = n
	}
	if s := v.Get("time"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad("time", "%q is not an RFC 3339 time", s)
		}
		r.since = t.Add(-24 * time.Hour)
	}
	return r, errs
}

// surrounding answers GET /api/surrounding?agent=&path=&topic=&offset=&n=&time=:
// the n events of the file path of agent (in topic) that start before
// offset, and the n from offset on, by log.offset: the lines around an
// event a search found. time, the event's @timestamp, lets local mode
// skip older files.
func (s *Server) surrounding(w http.ResponseWriter, r *http.Request) {
	req, errs := parseSurrounding(r.URL.Query())
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad request", Fields: errs})
		return
	}
	pattern, err := indexname.Parse(s.cfg.ES.Index)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if s.cfg.LocalES() {
		out, err := surroundingLocal(s.cfg.LocalESDir(), pattern, req)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), searchTimeout)
	defer cancel()
	var errsES []string
	for _, base := range s.cfg.ES.Endpoints {
		out, err := s.surroundingAt(ctx, base, pattern, req)
		if err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
		errsES = append(errsES, err.Error())
	}
	writeError(w, http.StatusBadGateway, "%s", strings.Join(errsES, "; "))
}

// surroundingAt asks one endpoint: the topic's alias (or, for a topic no
// alias can name, its indices by name), the file's events before offset
// newest first and from offset on oldest first.
func (s *Server) surroundingAt(ctx context.Context, base string, pattern *indexname.Pattern, req surroundingRequest) (Surrounding, error) {
	target, ok := indexname.Alias(req.topic)
	if !ok {
		names, err := s.resolveIndices(ctx, base, strings.ReplaceAll(pattern.OfTopic(req.topic), "?", "*"))
		if err != nil {
			return Surrounding{}, err
		}
		var keep []string
		for _, n := range names {
			if pattern.MatchTopic(req.topic, n) {
				keep = append(keep, url.PathEscape(n))
			}
		}
		if len(keep) == 0 {
			return Surrounding{Source: "elasticsearch", Before: []json.RawMessage{}, After: []json.RawMessage{}}, nil
		}
		target = strings.Join(keep, ",")
	} else {
		target = url.PathEscape(target)
	}
	path := "/" + target + "/_search?ignore_unavailable=true&allow_no_indices=true"
	side := func(cond, order string) ([]json.RawMessage, error) {
		body, _ := json.Marshal(map[string]any{
			"size": req.n,
			"query": map[string]any{"bool": map[string]any{"filter": []any{
				map[string]any{"term": map[string]any{"agent.id": req.agent}},
				map[string]any{"term": map[string]any{"log.file.path": req.path}},
				map[string]any{"range": map[string]any{"log.offset": map[string]any{cond: req.offset}}},
			}}},
			"sort": []any{map[string]any{"log.offset": map[string]any{"order": order, "unmapped_type": "long"}}},
		})
		return s.searchOne(ctx, base, path, body)
	}
	before, err := side("lt", "desc")
	if err != nil {
		return Surrounding{}, err
	}
	after, err := side("gte", "asc")
	if err != nil {
		return Surrounding{}, err
	}
	slices.Reverse(before)
	return Surrounding{Source: "elasticsearch", Before: nonNil(before), After: nonNil(after)}, nil
}

func nonNil(d []json.RawMessage) []json.RawMessage {
	if d == nil {
		return []json.RawMessage{}
	}
	return d
}

// surroundingLocal reads the local files of the topic (from req.since's
// day on, at most localScanBytes) for the file's events around offset.
func surroundingLocal(dir string, pattern *indexname.Pattern, req surroundingRequest) (Surrounding, error) {
	var before, after []offLine // before: the n largest offsets < offset; after: the n smallest >= offset
	f := eventFilter{agent: req.agent, path: req.path}
	_, err := filestore.Each(dir, func(index string) bool { return pattern.MatchTopic(req.topic, index) }, req.since, localScanBytes, func(raw []byte) bool {
		if !f.keep(raw) {
			return true
		}
		var d struct {
			Log struct {
				Offset *int64 `json:"offset"`
			} `json:"log"`
		}
		if json.Unmarshal(raw, &d) != nil || d.Log.Offset == nil {
			return true
		}
		l := offLine{*d.Log.Offset, raw}
		if l.off < req.offset {
			before = keepN(before, l, req.n, func(a, b offLine) bool { return a.off > b.off })
		} else {
			after = keepN(after, l, req.n, func(a, b offLine) bool { return a.off < b.off })
		}
		return true
	})
	if err != nil {
		return Surrounding{}, err
	}
	out := Surrounding{Source: "files", Before: []json.RawMessage{}, After: []json.RawMessage{}}
	for i := len(before) - 1; i >= 0; i-- {
		out.Before = append(out.Before, before[i].doc)
	}
	for _, l := range after {
		out.After = append(out.After, l.doc)
	}
	return out, nil
}

// offLine is one event of a file and its offset.
type offLine struct {
	off int64
	doc json.RawMessage
}

// keepN inserts x into list, kept sorted by first and at most n long; an
// offset already there (a replayed copy) is not added twice.
func keepN(list []offLine, x offLine, n int, first func(a, b offLine) bool) []offLine {
	i := 0
	for i < len(list) && first(list[i], x) {
		i++
	}
	if i >= n || (i < len(list) && list[i].off == x.off) {
		return list
	}
	x.doc = append(json.RawMessage(nil), x.doc...) // the reader reuses its buffer
	list = slices.Insert(list, i, x)
	if len(list) > n {
		list = list[:n]
	}
	return list
}
