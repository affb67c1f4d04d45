package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"brun/servers/filestore"
	"brun/servers/indexname"
	"brun/servers/job"
)

const (
	// defaultEvents and maxEvents bound how many events one request shows.
	defaultEvents, maxEvents = 50, 500
	// localScanBytes bounds how much of the local files one request reads,
	// newest first: a filter that matches nothing answers in bounded time.
	localScanBytes = 64 << 20
	// searchTimeout bounds a search in Elasticsearch.
	searchTimeout = 10 * time.Second
)

// Events is the answer of GET /api/agents/{agent}/jobs/{name}/events.
type Events struct {
	// Source is where the events were read: "elasticsearch" or "files"
	// (data.dir/es, when es.endpoints is empty).
	Source string `json:"source"`
	// Indices is the glob of the job's indices.
	Indices string `json:"indices"`
	// Events are the documents, newest first.
	Events []json.RawMessage `json:"events"`
}

// jobEvents answers GET /api/agents/{agent}/jobs/{name}/events?q=&size=:
// the latest documents of the job (its topic's indices, its agent, its
// path), newest first, with q, when given, keeping those whose message
// holds every word of q (case-insensitive). They come from Elasticsearch,
// or from the local files when es.endpoints is empty.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	agent, name, ok := s.segments(w, r)
	if !ok {
		return
	}
	size := defaultEvents
	if v := r.URL.Query().Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEvents {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "bad size", Fields: []fieldError{{Field: "size", Reason: fmt.Sprintf("%q is not a number from 1 to %d", v, maxEvents)}}})
			return
		}
		size = n
	}
	words := strings.Fields(strings.ToLower(r.URL.Query().Get("q")))

	key := s.keys.Job(agent, name)
	ctx, cancel := context.WithTimeout(r.Context(), etcdTimeout)
	resp, err := s.cli.Get(ctx, key)
	cancel()
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: %v", err)
		return
	}
	if len(resp.Kvs) == 0 {
		writeError(w, http.StatusNotFound, "no job %s", key)
		return
	}
	// The agent's own validator: a job it would not run has no events.
	spec, err := job.Parse(resp.Kvs[0].Value)
	if err != nil {
		writeError(w, http.StatusConflict, "job %s is invalid, so it has no events: %v", key, err)
		return
	}
	pattern, err := indexname.Parse(s.cfg.ES.Index)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	f := eventFilter{agent: agent, path: spec.Path, words: words}
	out := Events{Indices: pattern.OfTopic(spec.Topic), Events: []json.RawMessage{}}
	if s.cfg.LocalES() {
		out.Source = "files"
		docs, err := filestore.Latest(s.cfg.LocalESDir(), filestore.Query{
			Index:    func(index string) bool { return pattern.MatchTopic(spec.Topic, index) },
			Keep:     f.keep,
			Limit:    size,
			MaxBytes: localScanBytes,
		})
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		for _, d := range docs {
			out.Events = append(out.Events, d)
		}
	} else {
		out.Source = "elasticsearch"
		docs, err := s.searchES(r.Context(), pattern, spec.Topic, f, size)
		if err != nil {
			writeError(w, http.StatusBadGateway, "%v", err)
			return
		}
		out.Events = append(out.Events, docs...)
	}
	writeJSON(w, http.StatusOK, out)
}

// eventFilter selects a job's documents.
type eventFilter struct {
	agent, path string   // agent.id, and the job's path (a glob) for log.file.path
	words       []string // lower-case words the message must all hold
}

// keep reports whether the JSON document doc passes f.
func (f eventFilter) keep(doc []byte) bool {
	if plain(f.agent) && !bytes.Contains(doc, []byte(f.agent)) {
		return false // cheap: most lines of other agents stop here
	}
	var d struct {
		Message string `json:"message"`
		Agent   struct {
			ID string `json:"id"`
		} `json:"agent"`
		Log struct {
			File struct {
				Path string `json:"path"`
			} `json:"file"`
		} `json:"log"`
	}
	if json.Unmarshal(doc, &d) != nil || d.Agent.ID != f.agent {
		return false
	}
	if ok, _ := filepath.Match(f.path, d.Log.File.Path); !ok && f.path != d.Log.File.Path {
		return false
	}
	msg := strings.ToLower(d.Message)
	for _, w := range f.words {
		if !strings.Contains(msg, w) {
			return false
		}
	}
	return true
}

// plain reports whether s is written as is inside a JSON string.
func plain(s string) bool {
	return !strings.ContainsFunc(s, func(c rune) bool {
		return c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	})
}

// searchES asks each es.endpoints in turn for the newest documents of the
// topic's indices that pass f: agent and path as filters, the words as a
// match on message (Elasticsearch's analyzer splits them). The indices
// are resolved first and kept when their names are exactly the topic's:
// index expressions and the _index field know '*' only, and
// "{topic}-*" also catches the indices of a topic named "{topic}-x".
func (s *Server) searchES(ctx context.Context, pattern *indexname.Pattern, topic string, f eventFilter, size int) ([]json.RawMessage, error) {
	filters := []any{map[string]any{"term": map[string]any{"agent.id": f.agent}}}
	if !strings.ContainsAny(f.path, `[\`) { // ES wildcards know * and ? only
		filters = append(filters, map[string]any{"wildcard": map[string]any{"log.file.path": f.path}})
	}
	query := map[string]any{"filter": filters}
	if len(f.words) > 0 {
		query["must"] = map[string]any{"match": map[string]any{"message": map[string]any{"query": strings.Join(f.words, " "), "operator": "and"}}}
	}
	body, _ := json.Marshal(map[string]any{
		"size":  size,
		"query": map[string]any{"bool": query},
		"sort":  []any{map[string]any{"@timestamp": "desc"}, map[string]any{"log.offset": map[string]any{"order": "desc", "unmapped_type": "long"}}},
	})
	expr := strings.ReplaceAll(pattern.OfTopic(topic), "?", "*")
	ctx, cancel := context.WithTimeout(ctx, searchTimeout)
	defer cancel()
	var errs []string
	for _, base := range s.cfg.ES.Endpoints {
		names, err := s.resolveIndices(ctx, base, expr)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		var indices []string
		for _, n := range names {
			if pattern.MatchTopic(topic, n) {
				indices = append(indices, url.PathEscape(n))
			}
		}
		if len(indices) == 0 {
			return nil, nil
		}
		docs, err := s.searchOne(ctx, base, "/"+strings.Join(indices, ",")+"/_search?ignore_unavailable=true", body)
		if err == nil {
			return docs, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

// resolveIndices lists the open indices matching expr.
func (s *Server) resolveIndices(ctx context.Context, base, expr string) ([]string, error) {
	var answer struct {
		Indices []struct {
			Name string `json:"name"`
		} `json:"indices"`
	}
	if err := s.esJSON(ctx, base, http.MethodGet, "/_resolve/index/"+url.PathEscape(expr), nil, &answer); err != nil {
		return nil, err
	}
	names := make([]string, len(answer.Indices))
	for i, ix := range answer.Indices {
		names[i] = ix.Name
	}
	return names, nil
}

// searchOne runs one _search and returns the hits' sources.
func (s *Server) searchOne(ctx context.Context, base, path string, body []byte) ([]json.RawMessage, error) {
	var answer struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := s.esJSON(ctx, base, http.MethodPost, path, body, &answer); err != nil {
		return nil, err
	}
	docs := make([]json.RawMessage, 0, len(answer.Hits.Hits))
	for _, h := range answer.Hits.Hits {
		docs = append(docs, h.Source)
	}
	return docs, nil
}

// esJSON sends one request and decodes its 2xx answer into out; any other
// answer is an error quoting its start.
func (s *Server) esJSON(ctx context.Context, base, method, path string, body []byte, out any) error {
	res, err := esDo(ctx, s.cfg.ES, base, method, path, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", base, err)
	}
	if res.StatusCode/100 != 2 {
		return &esStatusError{status: res.StatusCode, body: data,
			msg: fmt.Sprintf("elasticsearch %s: %s %s: %s: %.300s", base, method, path, res.Status, data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("elasticsearch %s: %s %s: answer: %w", base, method, path, err)
	}
	return nil
}

// esStatusError is an answer of Elasticsearch other than 2xx.
type esStatusError struct {
	status int
	body   []byte
	msg    string
}

func (e *esStatusError) Error() string { return e.msg }
