package console

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"brun/servers/filestore"
	"brun/servers/indexname"
)

// searchLocal answers req from the local files under dir, written on or
// after from's day, through their indexes (filestore.Blocks): a block
// whose every event lies in the range and in one bar of the histogram is
// counted from its summary when the search needs no more than its level,
// agent and topic (no query terms); every other block that may hold
// events of the range is read and each of its events decoded. The page is
// then read from the newest blocks that hold matches, until no block left
// can hold an event newer than the page's oldest. What is read is bounded
// by localScanBytes; past it, the answer says it is partial.
func searchLocal(dir string, pattern *indexname.Pattern, req searchRequest, q localQuery) (SearchAnswer, error) {
	s := newLocalSearch(req, q, localScanBytes)
	if err := s.run(dir, pattern); err != nil {
		return SearchAnswer{}, err
	}
	return s.answer(), nil
}

// run reads and counts what the search needs.
func (s *localSearch) run(dir string, pattern *indexname.Pattern) error {
	req, q := s.req, s.q
	topics := req.filters["event.dataset"]
	index := func(name string) bool {
		if strings.HasPrefix(name, "deadletter-") {
			return false
		}
		return len(topics) == 0 || slices.ContainsFunc(topics, func(t string) bool { return pattern.MatchTopic(t, name) })
	}
	needDocs := len(q.fields) > 0 || len(q.words) > 0
	// Blocks to read to count, and blocks counted whose events may be on
	// the page. Their Keys are dropped: only what reading needs is kept.
	var unknown, reads, pageBlocks []filestore.Block
	err := filestore.Blocks(dir, index, req.from, func(b filestore.Block) error {
		switch {
		case !b.Indexed:
			unknown = append(unknown, b)
		case !b.Overlaps(req.from, req.to):
		case needDocs || b.Over || !b.Within(req.from, req.to) || !s.oneBar(b.Summary):
			b.Keys = nil
			reads = append(reads, b)
		default:
			if s.countSummary(b.Summary) > 0 && (s.after == nil || !b.MinTime().After(s.after.at)) {
				b.Keys = nil
				pageBlocks = append(pageBlocks, b)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The lines no index sums up are the newest of their file (or a file
	// written before indexes were): read first, then the others newest
	// first.
	slices.SortStableFunc(reads, newestFirst)
	for _, b := range append(unknown, reads...) {
		if err := s.read(b, true); err != nil || s.cut {
			if err != nil {
				return err
			}
			break
		}
	}
	slices.SortStableFunc(pageBlocks, newestFirst)
	for _, b := range pageBlocks {
		if s.cut || (len(s.page) == req.size && b.MaxTime().Before(s.page[len(s.page)-1].at)) {
			break
		}
		if err := s.read(b, false); err != nil {
			return err
		}
	}
	return nil
}

// newestFirst orders indexed blocks by their newest event, newest first.
func newestFirst(a, b filestore.Block) int { return cmp.Compare(b.Max, a.Max) }

// localSearch is a local search under way: what it has counted, the page
// so far, and what it may still read.
type localSearch struct {
	req    searchRequest
	q      localQuery
	after  *localDoc
	total  int64
	bars   map[time.Time]*Bucket
	facets map[string]map[string]int64
	page   []localDoc // the size newest matches after after, newest first
	bound  int64      // of what is read
	budget int64      // of it, left
	cut    bool       // the budget ran out: some blocks were not read
}

func newLocalSearch(req searchRequest, q localQuery, bound int64) *localSearch {
	s := &localSearch{req: req, q: q, bars: map[time.Time]*Bucket{}, facets: map[string]map[string]int64{}, bound: bound, budget: bound}
	if req.after != nil {
		ms, _ := req.after[0].(float64)
		id, _ := req.after[1].(string)
		s.after = &localDoc{at: time.UnixMilli(int64(ms)), id: id}
	}
	return s
}

// oneBar reports whether every event of a block falls in one bar of the
// histogram.
func (s *localSearch) oneBar(b filestore.Summary) bool {
	d := s.req.interval.d
	return b.MinTime().Truncate(d).Equal(b.MaxTime().Truncate(d))
}

// keyValue is what a block's Key holds of a facet field.
func keyValue(k filestore.Key, field string) string {
	switch field {
	case "agent.id":
		return k.Agent
	case "event.dataset":
		return k.Topic
	case "log.level":
		return k.Level
	}
	return ""
}

// countSummary counts the events of a block that lies whole in the range
// and in one bar, from its summary. It returns how many match.
func (s *localSearch) countSummary(b filestore.Summary) int64 {
	var matched int64
	bar := s.bar(b.MinTime())
	for _, kc := range b.Keys {
		if !s.filtersHold(func(field string) string { return keyValue(kc.Key, field) }) {
			continue
		}
		matched += kc.N
		s.count(bar, kc.N, func(field string) string { return keyValue(kc.Key, field) })
	}
	return matched
}

// filtersHold reports whether an event with the fields value gives passes
// the request's filters.
func (s *localSearch) filtersHold(value func(field string) string) bool {
	for _, f := range facetFields {
		if want := s.req.filters[f.field]; len(want) > 0 && !slices.Contains(want, value(f.field)) {
			return false
		}
	}
	return true
}

// bar is the histogram's bar of at.
func (s *localSearch) bar(at time.Time) *Bucket {
	start := at.UTC().Truncate(s.req.interval.d)
	b := s.bars[start]
	if b == nil {
		b = &Bucket{Start: start, Levels: map[string]int64{}}
		s.bars[start] = b
	}
	return b
}

// count adds n matching events with the fields value gives to the total,
// a bar and the facets.
func (s *localSearch) count(bar *Bucket, n int64, value func(field string) string) {
	s.total += n
	bar.Count += n
	bar.Levels[cmp.Or(value("log.level"), noLevel)] += n
	for _, f := range facetFields {
		if v := value(f.field); v != "" {
			if s.facets[f.param] == nil {
				s.facets[f.param] = map[string]int64{}
			}
			s.facets[f.param][v] += n
		}
	}
}

// read reads a block's events: counting them when counting, and offering
// each match to the page.
func (s *localSearch) read(b filestore.Block, counting bool) error {
	cut, err := filestore.ReadBlock(b, &s.budget, func(raw []byte) bool {
		s.consider(raw, counting)
		return true
	})
	s.cut = s.cut || cut
	return err
}

// consider takes one event read from a file.
func (s *localSearch) consider(raw []byte, counting bool) {
	if !s.q.mayMatch(raw) {
		return
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return
	}
	ts, _ := doc["@timestamp"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || at.Before(s.req.from) || !at.Before(s.req.to) {
		return
	}
	value := func(field string) string { return filestore.Field(doc, field) }
	if !s.filtersHold(value) || !s.q.matches(doc) {
		return
	}
	d := localDoc{at: at, id: value("event.id"), level: value("log.level")}
	if counting {
		s.count(s.bar(at), 1, value)
	}
	s.offer(d, raw)
}

// offer puts a match on the page if it is among the size newest after
// the request's after.
func (s *localSearch) offer(d localDoc, raw []byte) {
	if s.after != nil && !s.after.before(d) {
		return
	}
	s.page = keepNewest(s.page, s.req.size, d, raw)
}

// keepNewest puts d (its document raw, copied: readers reuse their
// buffers) into page, sorted newest first, if it is among the size newest,
// and returns page.
func keepNewest(page []localDoc, size int, d localDoc, raw []byte) []localDoc {
	if len(page) == size && !d.before(page[len(page)-1]) {
		return page
	}
	d.raw = bytes.Clone(raw)
	i, _ := slices.BinarySearchFunc(page, d, func(a, b localDoc) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	page = slices.Insert(page, i, d)
	if len(page) > size {
		page = page[:size]
	}
	return page
}

// answer is the search's answer: the page, the total, and on the first
// page the histogram and facets.
func (s *localSearch) answer() SearchAnswer {
	req := s.req
	out := SearchAnswer{Source: "files", Total: s.total, TotalExact: !s.cut, Hits: []SearchHit{},
		From: req.from.UTC(), To: req.to.UTC(), Interval: req.interval.name}
	for _, d := range s.page {
		out.Hits = append(out.Hits, SearchHit{ID: d.id, Source: d.raw})
	}
	if len(s.page) == req.size {
		last := s.page[len(s.page)-1]
		a, _ := json.Marshal([]any{last.at.UnixMilli(), last.id})
		out.After = string(a)
	}
	if s.cut {
		out.Warnings = append(out.Warnings, fmt.Sprintf("the search read its bound of %d MiB of the local files and stopped: events it did not reach are left out, the total is a lower bound", s.bound>>20))
	}
	if req.after != nil {
		return out
	}
	out.Histogram = emptyHistogram(req)
	for i := range out.Histogram {
		if b := s.bars[out.Histogram[i].Start]; b != nil {
			out.Histogram[i] = *b
		}
	}
	out.Facets = map[string][]FacetValue{}
	for _, f := range facetFields {
		values := []FacetValue{}
		for v, n := range s.facets[f.param] {
			values = append(values, FacetValue{Value: v, Count: n})
		}
		slices.SortFunc(values, func(a, b FacetValue) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
		if len(values) > facetSize {
			values = values[:facetSize]
		}
		out.Facets[f.param] = values
	}
	return out
}
