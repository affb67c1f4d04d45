package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"brun/servers/filestore"
	"brun/servers/indexname"
)

// localQuery is q as local mode reads it: field:value terms, each of which
// must hold (message:x holds x, other fields equal it, case aside), and
// words or "quoted phrases" the message must hold. AND between them is
// allowed; OR, NOT and parentheses are Elasticsearch's only.
type localQuery struct {
	fields [][2]string // path, lower-case value
	words  []string    // lower case
}

func parseLocalQuery(q string) (localQuery, error) {
	var lq localQuery
	for rest := strings.TrimSpace(q); rest != ""; rest = strings.TrimSpace(rest) {
		var tok string
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return lq, fmt.Errorf("a quote is not closed")
			}
			tok, rest = rest[:end+2], rest[end+2:]
		} else if i := strings.IndexAny(rest, " \t"); i >= 0 {
			tok, rest = rest[:i], rest[i:]
			// field:"quoted value"
			if strings.HasSuffix(tok, `:"`) || (strings.Contains(tok, `:"`) && !strings.HasSuffix(tok, `"`)) {
				end := strings.IndexByte(rest, '"')
				if end < 0 {
					return lq, fmt.Errorf("a quote is not closed")
				}
				tok, rest = tok+rest[:end+1], rest[end+1:]
			}
		} else {
			tok, rest = rest, ""
		}
		switch tok {
		case "AND", "&&":
			continue
		case "OR", "NOT", "||", "!":
			return lq, fmt.Errorf("%s needs Elasticsearch; local mode takes field:value terms and words, all of which must hold", tok)
		}
		if strings.ContainsAny(tok[:1], "()") || strings.ContainsAny(tok[len(tok)-1:], "()") {
			return lq, fmt.Errorf("parentheses need Elasticsearch; local mode takes field:value terms and words, all of which must hold")
		}
		if tok[0] != '"' {
			if field, value, ok := strings.Cut(tok, ":"); ok && field != "" && value != "" {
				lq.fields = append(lq.fields, [2]string{field, strings.ToLower(strings.Trim(value, `"`))})
				continue
			}
		}
		if w := strings.ToLower(strings.Trim(tok, `"`)); w != "" {
			lq.words = append(lq.words, w)
		}
	}
	return lq, nil
}

// localDoc is what a local search reads of a document.
type localDoc struct {
	raw   []byte
	at    time.Time
	id    string
	level string
}

// key orders documents as Elasticsearch's sort does: @timestamp, then
// event.id, both descending.
func (d localDoc) before(o localDoc) bool {
	if c := d.at.Compare(o.at); c != 0 {
		return c > 0
	}
	return d.id > o.id
}

// searchLocal answers req from the local files under dir: every document
// written on or after from's day (newest first, at most localScanBytes)
// is read once; the matches are counted into the total, the histogram
// and the facets, and the page is the size newest after req.after.
func searchLocal(dir string, pattern *indexname.Pattern, req searchRequest, q localQuery) (SearchAnswer, error) {
	out := SearchAnswer{Source: "files", TotalExact: true, Hits: []SearchHit{}, From: req.from.UTC(), To: req.to.UTC(), Interval: req.interval.name}
	var after *localDoc
	if req.after != nil {
		ms, _ := req.after[0].(float64)
		id, _ := req.after[1].(string)
		after = &localDoc{at: time.UnixMilli(int64(ms)), id: id}
	}
	buckets := map[time.Time]*Bucket{}
	facets := map[string]map[string]int64{}
	var page []localDoc
	topics := req.filters["event.dataset"]
	index := func(name string) bool {
		if strings.HasPrefix(name, "deadletter-") {
			return false
		}
		if len(topics) == 0 {
			return true
		}
		for _, t := range topics {
			if pattern.MatchTopic(t, name) {
				return true
			}
		}
		return false
	}
	cut, err := filestore.Each(dir, index, req.from, localScanBytes, func(raw []byte) bool {
		var doc map[string]any
		if json.Unmarshal(raw, &doc) != nil {
			return true
		}
		ts, _ := doc["@timestamp"].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.Before(req.from) || !at.Before(req.to) {
			return true
		}
		for _, f := range facetFields {
			if want := req.filters[f.field]; len(want) > 0 && !slices.Contains(want, scalarText(lookup(doc, f.field))) {
				return true
			}
		}
		if !q.matches(doc) {
			return true
		}
		d := localDoc{at: at, id: scalarText(lookup(doc, "event.id")), level: scalarText(lookup(doc, "log.level"))}
		out.Total++
		start := at.UTC().Truncate(req.interval.d)
		b := buckets[start]
		if b == nil {
			b = &Bucket{Start: start, Levels: map[string]int64{}}
			buckets[start] = b
		}
		b.Count++
		b.Levels[cmp.Or(d.level, noLevel)]++
		for _, f := range facetFields {
			if v := scalarText(lookup(doc, f.field)); v != "" {
				if facets[f.param] == nil {
					facets[f.param] = map[string]int64{}
				}
				facets[f.param][v]++
			}
		}
		if after != nil && !after.before(d) {
			return true
		}
		// Keep the size newest: page is sorted newest first.
		if len(page) == req.size && !d.before(page[len(page)-1]) {
			return true
		}
		d.raw = append([]byte(nil), raw...)
		i, _ := slices.BinarySearchFunc(page, d, func(a, b localDoc) int {
			if a.before(b) {
				return -1
			}
			return 1
		})
		page = slices.Insert(page, i, d)
		if len(page) > req.size {
			page = page[:req.size]
		}
		return true
	})
	if err != nil {
		return out, err
	}
	for _, d := range page {
		out.Hits = append(out.Hits, SearchHit{ID: d.id, Source: d.raw})
	}
	if len(page) == req.size {
		last := page[len(page)-1]
		a, _ := json.Marshal([]any{last.at.UnixMilli(), last.id})
		out.After = string(a)
	}
	if cut {
		out.TotalExact = false
		out.Warnings = append(out.Warnings, fmt.Sprintf("only the newest %d MiB of the local files were read: older events are left out", localScanBytes>>20))
	}
	if req.after != nil {
		return out, nil
	}
	out.Histogram = emptyHistogram(req)
	for i := range out.Histogram {
		if b := buckets[out.Histogram[i].Start]; b != nil {
			out.Histogram[i] = *b
		}
	}
	out.Facets = map[string][]FacetValue{}
	for _, f := range facetFields {
		values := []FacetValue{}
		for v, n := range facets[f.param] {
			values = append(values, FacetValue{Value: v, Count: n})
		}
		slices.SortFunc(values, func(a, b FacetValue) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
		if len(values) > facetSize {
			values = values[:facetSize]
		}
		out.Facets[f.param] = values
	}
	return out, nil
}

// matches reports whether doc holds every term of q.
func (q localQuery) matches(doc map[string]any) bool {
	msg := strings.ToLower(scalarText(doc["message"]))
	for _, f := range q.fields {
		v := strings.ToLower(scalarText(lookup(doc, f[0])))
		if f[0] == "message" {
			if !strings.Contains(v, f[1]) {
				return false
			}
		} else if v != f[1] {
			return false
		}
	}
	for _, w := range q.words {
		if !strings.Contains(msg, w) {
			return false
		}
	}
	return true
}

// lookup reads a dotted path ("log.level") from a decoded document,
// nested or written with its dots.
func lookup(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	first, rest, ok := strings.Cut(path, ".")
	if !ok {
		return nil
	}
	inner, _ := doc[first].(map[string]any)
	if inner == nil {
		return nil
	}
	return lookup(inner, rest)
}

// scalarText is a scalar's text; "" for others.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}
