package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/logging"
	"brun/base/retry"
	"brun/servers/ack"
	"brun/servers/indexname"
)

// fakeES is an httptest stand-in for Elasticsearch's _bulk. item decides
// each item's answer from the request number (from 1), the index and the
// _id; whole, when set, may answer the request as a whole instead. It
// records the ids of every request.
type fakeES struct {
	t     *testing.T
	item  func(req int, index, id string) (status int, errType string)
	whole func(req int, body []byte) int

	// failTemplates is how many index template requests fail (503)
	// before they succeed.
	failTemplates int

	mu        sync.Mutex
	requests  [][]string // "index/id" of each item, per request
	sources   map[string]json.RawMessage
	templates map[string]json.RawMessage // installed, by name
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if name, ok := strings.CutPrefix(r.URL.Path, "/_index_template/"); ok && r.Method == http.MethodPut {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failTemplates > 0 {
			f.failTemplates--
			http.Error(w, `{"error":"unavailable"}`, 503)
			return
		}
		if f.templates == nil {
			f.templates = map[string]json.RawMessage{}
		}
		f.templates[name] = body
		w.Write([]byte(`{"acknowledged":true}`))
		return
	}
	if r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":"not found"}`, 404)
		return
	}
	if got := r.URL.Query().Get("filter_path"); got != bulkFilter {
		f.t.Errorf("filter_path %q, want %q", got, bulkFilter)
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, nil)
	n := len(f.requests)
	f.mu.Unlock()
	if f.whole != nil {
		if status := f.whole(n, body); status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"type":"fake","reason":"whole request answered %d"},"status":%d}`, status, status)
			return
		}
	}
	var items []string
	errors := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var a struct {
			Index struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Index.ID == "" {
			f.t.Errorf("bad action line %q: %v", sc.Bytes(), err)
		}
		if !sc.Scan() || !json.Valid(sc.Bytes()) {
			f.t.Errorf("action %s has no valid source line", a.Index.ID)
		}
		key := a.Index.Index + "/" + a.Index.ID
		f.mu.Lock()
		f.requests[n-1] = append(f.requests[n-1], key)
		status, errType := f.item(n, a.Index.Index, a.Index.ID)
		if status < 300 {
			if f.sources == nil {
				f.sources = map[string]json.RawMessage{}
			}
			f.sources[key] = append(json.RawMessage(nil), sc.Bytes()...)
		}
		f.mu.Unlock()
		if status >= 300 {
			errors = true
			items = append(items, fmt.Sprintf(`{"index":{"status":%d,"error":{"type":%q,"reason":"fake %s"}}}`, status, errType, errType))
		} else {
			items = append(items, fmt.Sprintf(`{"index":{"status":%d}}`, status))
		}
	}
	fmt.Fprintf(w, `{"errors":%v,"items":[%s]}`, errors, strings.Join(items, ","))
}

func (f *fakeES) reqs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// harness is one writer against a fake, with documents of one partition
// whose marks are recorded.
type harness struct {
	t     *testing.T
	fake  *fakeES
	s     *esSink
	w     *bulkWriter // the writer in front of s
	p     *partition
	win   *ack.Window // the partition's documents in flight
	mu    sync.Mutex
	marks []int64
}

func newHarness(t *testing.T, fake *fakeES, cfg writerConfig) *harness {
	fake.t = t
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}, DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: fake}
	pat, _ := indexname.Parse("{topic}-{yyyy.MM.dd}")
	h.p = newPartition("app", 0, pat)
	h.win = ack.NewWindow(1<<20, 0)
	ready := make(chan struct{})
	close(ready)
	h.s = &esSink{es: es, templates: newTemplates(es, config.Default().ES, pat, logging.For("bulk-test")), cfg: cfg, log: logging.For("bulk-test"), now: func() time.Time { return nowTime }}
	h.w = &bulkWriter{out: h.s, cfg: cfg, ready: ready}
	return h
}

var fastRetries = writerConfig{limits: testLimits(100, 1<<20, 10*time.Millisecond), backoff: retry.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}}

// docs makes n documents with ids id-0 ... of Kafka offsets 0..n-1,
// whose completions move the window and record its watermarks.
func (h *harness) docs(n int) []*document {
	var out []*document
	for i := 0; i < n; i++ {
		v := fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":"line %d","event":{"id":"id-%d"}}`, i, i)
		d := h.p.newDocument([]byte(v), int64(i), kafkaTime, nowTime)
		tk, err := h.win.Add(context.Background(), int64(i)+1)
		if err != nil {
			h.t.Fatal(err)
		}
		d.done = func() {
			if wm, moved := h.win.Done(tk); moved {
				h.mu.Lock()
				h.marks = append(h.marks, wm)
				h.mu.Unlock()
			}
		}
		out = append(out, d)
	}
	return out
}

func (h *harness) lastMark() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.marks) == 0 {
		return 0
	}
	return h.marks[len(h.marks)-1]
}

const idx = "app-2026.11.25/"

// A topic's index template is installed before its first document is
// sent, once, with the topic's exact pattern, a priority above shorter
// topics' and an alias named after the topic; while it can't be
// installed, nothing of the batch is sent.
func TestTopicTemplateBeforeFirstDocument(t *testing.T) {
	fake := &fakeES{failTemplates: 2, item: func(int, string, string) (int, string) { return 201, "" }}
	h := newHarness(t, fake, fastRetries)
	h.s.write(context.Background(), h.docs(3))
	h.s.write(context.Background(), h.docs(2))
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.requests) != 2 {
		t.Fatalf("%d _bulk requests, want 2 (none while the template failed)", len(fake.requests))
	}
	if len(fake.templates) != 1 {
		t.Fatalf("templates %v, want only brun-app", slices.Collect(maps.Keys(fake.templates)))
	}
	var tmpl struct {
		IndexPatterns []string `json:"index_patterns"`
		Priority      int      `json:"priority"`
		Template      struct {
			Aliases  map[string]any `json:"aliases"`
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(fake.templates["brun-app"], &tmpl); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tmpl.IndexPatterns, []string{"app-*.*.*"}) || tmpl.Priority != templatePriority+3 {
		t.Errorf("patterns %v priority %d, want [app-*.*.*] and %d", tmpl.IndexPatterns, tmpl.Priority, templatePriority+3)
	}
	if _, ok := tmpl.Template.Aliases["app"]; !ok || tmpl.Template.Mappings.Properties["host"] == nil {
		t.Errorf("alias %v, mappings %v", tmpl.Template.Aliases, tmpl.Template.Mappings.Properties)
	}
}

func TestOnlyFailedItemsAreRetried(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		failFor int // requests during which items 2 and 4 fail
	}{
		{"429 too many requests", 429, 3},
		{"503 unavailable", 503, 1},
		{"408 timeout", 408, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeES{item: func(req int, index, id string) (int, string) {
				if (id == "id-2" || id == "id-4") && req <= c.failFor {
					return c.status, "es_rejected_execution_exception"
				}
				return 201, ""
			}}
			h := newHarness(t, fake, fastRetries)
			h.s.write(context.Background(), h.docs(6))
			reqs := fake.reqs()
			if len(reqs) != c.failFor+1 {
				t.Fatalf("%d requests, want %d: %v", len(reqs), c.failFor+1, reqs)
			}
			if len(reqs[0]) != 6 {
				t.Fatalf("first request has %d items, want 6", len(reqs[0]))
			}
			for _, r := range reqs[1:] {
				if !slices.Equal(r, []string{idx + "id-2", idx + "id-4"}) {
					t.Fatalf("a retry sent %v, want only the failed items id-2 and id-4", r)
				}
			}
			if got := h.lastMark(); got != 6 {
				t.Fatalf("watermark %d after all stored, want 6", got)
			}
		})
	}
}

// While an item keeps failing, the watermark stops just before it however
// many later items are stored; it passes once the item is stored.
func TestWatermarkNeverPassesAFailedItem(t *testing.T) {
	var stuck sync.WaitGroup
	stuck.Add(1)
	release := make(chan struct{})
	var once sync.Once
	fake := &fakeES{item: func(req int, index, id string) (int, string) {
		if id == "id-3" {
			select {
			case <-release:
				return 201, ""
			default:
				if req >= 5 {
					once.Do(stuck.Done)
				}
				return 429, "es_rejected_execution_exception"
			}
		}
		return 201, ""
	}}
	h := newHarness(t, fake, fastRetries)
	done := make(chan struct{})
	go func() { h.s.write(context.Background(), h.docs(10)); close(done) }()
	stuck.Wait() // id-3 has failed at least 5 times; everything else is stored
	h.mu.Lock()
	marks := slices.Clone(h.marks)
	h.mu.Unlock()
	for _, m := range marks {
		if m > 3 {
			t.Fatalf("offset %d marked while offset 3 is not stored (marks %v)", m, marks)
		}
	}
	if len(marks) == 0 || marks[len(marks)-1] != 3 {
		t.Fatalf("marks %v, want the watermark at 3 (offsets 0-2 stored)", marks)
	}
	close(release)
	<-done
	if got := h.lastMark(); got != 10 {
		t.Fatalf("watermark %d after id-3 was stored, want 10", got)
	}
}

// A whole request that fails (ES down, 5xx, 429 on the request) is sent
// again whole, and nothing is marked until it succeeds.
func TestWholeRequestFailureRetriesEverything(t *testing.T) {
	for _, status := range []int{429, 500, 503, 401} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var h *harness
			var markedWhileFailing []int64
			fake := &fakeES{
				item: func(int, string, string) (int, string) { return 201, "" },
				whole: func(req int, _ []byte) int {
					if req <= 3 {
						markedWhileFailing = append(markedWhileFailing, h.lastMark())
						return status
					}
					return 0
				},
			}
			h = newHarness(t, fake, fastRetries)
			h.s.write(context.Background(), h.docs(5))
			if got := len(fake.reqs()); got != 4 {
				t.Fatalf("%d requests, want 4", got)
			}
			if !slices.Equal(markedWhileFailing, []int64{0, 0, 0}) {
				t.Fatalf("watermark during the failed requests %v, want 0 each time", markedWhileFailing)
			}
			if got := h.lastMark(); got != 5 {
				t.Fatalf("watermark %d after the request succeeded, want 5", got)
			}
		})
	}
}

// An item refused for good goes to the dead-letter index with why and
// where from, and then counts as done; the others are stored once.
func TestRefusedItemIsDeadLettered(t *testing.T) {
	fake := &fakeES{item: func(req int, index, id string) (int, string) {
		if id == "id-1" && strings.HasPrefix(index, "app-") {
			return 400, "document_parsing_exception"
		}
		return 201, ""
	}}
	h := newHarness(t, fake, fastRetries)
	h.s.write(context.Background(), h.docs(3))
	reqs := fake.reqs()
	if len(reqs) != 2 || !slices.Equal(reqs[1], []string{"deadletter-2026.11.26/id-1"}) {
		t.Fatalf("requests %v, want the 3 documents, then id-1's dead letter alone", reqs)
	}
	var dl map[string]any
	json.Unmarshal(fake.sources["deadletter-2026.11.26/id-1"], &dl)
	for path, want := range map[string]any{
		"error.type": "document_parsing_exception", "error.message": "fake document_parsing_exception",
		"kafka.topic": "app", "kafka.partition": 0.0, "kafka.offset": 1.0,
		"event.original": `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"line 1","event":{"id":"id-1"}}`,
	} {
		if got := get(dl, path); got != want {
			t.Errorf("dead letter %s = %#v, want %#v", path, got, want)
		}
	}
	if got := h.lastMark(); got != 3 {
		t.Fatalf("watermark %d, want 3: the dead-lettered offset counts as done", got)
	}
}

// A refused dead letter is retried, not dropped: the watermark waits.
func TestRefusedDeadLetterIsRetried(t *testing.T) {
	fake := &fakeES{item: func(req int, index, id string) (int, string) {
		switch {
		case id == "id-0" && strings.HasPrefix(index, "app-"):
			return 400, "document_parsing_exception"
		case strings.HasPrefix(index, "deadletter-") && req <= 3:
			return 400, "mapper_exception"
		}
		return 201, ""
	}}
	h := newHarness(t, fake, fastRetries)
	h.s.write(context.Background(), h.docs(2))
	if n := len(fake.reqs()); n != 4 {
		t.Fatalf("%d requests, want 4 (documents, then the dead letter 3 times)", n)
	}
	if h.marks[0] != 2 || len(h.marks) != 1 {
		t.Fatalf("marks %v, want only 2 once the dead letter is stored", h.marks)
	}
}

// A bulk over the server's size limit is split until it fits; a single
// document over it is dead-lettered.
func TestTooLargeBulkIsSplit(t *testing.T) {
	const limit = 700 // bytes: about 5 small documents
	fake := &fakeES{
		item: func(int, string, string) (int, string) { return 201, "" },
		whole: func(_ int, body []byte) int {
			if len(body) > limit && !bytes.Contains(body, []byte("deadletter-")) {
				return 413
			}
			return 0
		},
	}
	h := newHarness(t, fake, fastRetries)
	docs := h.docs(16)
	big := fmt.Sprintf(`{"message":%q,"event":{"id":"huge"}}`, strings.Repeat("x", 2*limit))
	huge := h.p.newDocument([]byte(big), 7, kafkaTime, nowTime)
	huge.done = docs[7].done
	docs[7] = huge
	h.s.write(context.Background(), docs)
	stored := map[string]int{}
	for i, r := range fake.reqs() {
		if i > 0 && len(r) > 8 {
			t.Errorf("request %d of %d items after a split, want at most 8", i+1, len(r))
		}
		for _, k := range r {
			if _, ok := fake.sources[k]; ok {
				stored[k]++
			}
		}
	}
	for i := 0; i < 16; i++ {
		key := fmt.Sprintf(idx+"id-%d", i)
		if i == 7 {
			key = "deadletter-2026.11.26/huge"
		}
		if stored[key] != 1 {
			t.Errorf("%s stored %d times, want 1", key, stored[key])
		}
	}
	if got := h.lastMark(); got != 16 {
		t.Fatalf("watermark %d, want 16", got)
	}
}

// run flushes by count, by size and by time.
func TestBatching(t *testing.T) {
	cases := []struct {
		name  string
		cfg   writerConfig
		n     int
		sizes []int
	}{
		{"by count, rest by time", writerConfig{limits: testLimits(3, 1<<20, 20*time.Millisecond), backoff: retry.Backoff{Min: time.Millisecond, Max: time.Millisecond}}, 7, []int{3, 3, 1}},
		{"by bytes", writerConfig{limits: testLimits(100, 400, time.Hour), backoff: retry.Backoff{Min: time.Millisecond, Max: time.Millisecond}}, 6, []int{3, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeES{item: func(int, string, string) (int, string) { return 201, "" }}
			h := newHarness(t, fake, c.cfg)
			in := make(chan *document, c.n)
			for _, d := range h.docs(c.n) {
				in <- d
			}
			h.w.in = in
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go h.w.run(ctx)
			deadline := time.Now().Add(10 * time.Second)
			for h.lastMark() != int64(c.n) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			var sizes []int
			for _, r := range fake.reqs() {
				sizes = append(sizes, len(r))
			}
			if !slices.Equal(sizes, c.sizes) {
				t.Fatalf("bulk sizes %v, want %v (entry %d bytes)", sizes, c.sizes, len(h.docs(1)[0].entry))
			}
		})
	}
}

// The transfer's client takes es.tls.cert and es.tls.key like every
// other client of brun: a key pair it can't read is an error naming them.
func TestESClientReadsTheClientCertificate(t *testing.T) {
	c := config.Default().ES
	c.Endpoints = []string{"https://127.0.0.1:9200"}
	c.TLS.Cert = filepath.Join(t.TempDir(), "missing.crt")
	c.TLS.Key = filepath.Join(t.TempDir(), "missing.key")
	_, err := esx.New(c)
	if err == nil || !strings.Contains(err.Error(), "es.tls.cert") || !strings.Contains(err.Error(), c.TLS.Cert) {
		t.Fatalf("esx.New with an unreadable client certificate: %v, want an error naming es.tls.cert and its path", err)
	}
}

// testLimits are bulk limits for a test's writers.
func testLimits(actions, bytes int, interval time.Duration) *bulkLimits {
	return newBulkLimits(config.ES{BulkActions: actions, BulkBytes: bytes, FlushInterval: interval})
}

// Bulk limits set again while the writers run (a SIGHUP) apply to the
// next bulk: set reports a change only when there is one.
func TestBulkLimitsChangeLive(t *testing.T) {
	l := testLimits(5000, 5<<20, time.Second)
	if !l.full(5000, 0) || l.full(4999, 100) {
		t.Fatal("5,000 documents is not a full bulk of es.bulk.actions 5000")
	}
	if l.set(config.ES{BulkActions: 5000, BulkBytes: 5 << 20, FlushInterval: time.Second}) {
		t.Error("the same limits reported as a change")
	}
	if !l.set(config.ES{BulkActions: 10, BulkBytes: 5 << 20, FlushInterval: 200 * time.Millisecond}) {
		t.Error("new limits not reported as a change")
	}
	if !l.full(10, 0) || l.wait() != 200*time.Millisecond {
		t.Errorf("after set: full(10) %v, wait %v", l.full(10, 0), l.wait())
	}
}
