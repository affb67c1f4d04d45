package console

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/servers/filestore"
)

func TestParseTail(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, since string
		from        time.Time // the window's start: since less tailLag
	}{
		{"no since: the last tailLag", "", now.Add(-tailLag)},
		{"the last answer's next", "2026-12-03T09:59:58Z", now.Add(-2*time.Second - tailLag)},
		{"a tab that slept: at most maxTailLookback", "2026-12-03T08:00:00Z", now.Add(-maxTailLookback - tailLag)},
		{"a clock ahead: now", "2026-12-03T11:00:00Z", now.Add(-tailLag)},
	} {
		v := url.Values{"q": {"log.level:error"}, "level": {"error"}, "size": {"50"},
			// A search's range and cursor mean nothing to a tail.
			"from": {"2026-12-03T09:00:00Z"}, "to": {"2026-12-03T09:01:00Z"}, "after": {"junk"}}
		if c.since != "" {
			v.Set("since", c.since)
		}
		r, errs := parseTail(v, now)
		if len(errs) > 0 {
			t.Errorf("%s: %v", c.name, errs)
			continue
		}
		if !r.from.Equal(c.from) || !r.next.Equal(now) || r.size != 50 || r.query != "log.level:error" || r.filters["log.level"][0] != "error" || r.after != nil {
			t.Errorf("%s: from %s next %s size %d query %q filters %v after %v; want from %s next %s", c.name, r.from, r.next, r.size, r.query, r.filters, r.after, c.from, now)
		}
	}
	for _, c := range []struct {
		v     url.Values
		field string
	}{
		{url.Values{"since": {"yesterday"}}, "since"},
		{url.Values{"size": {"501"}}, "size"},
		{url.Values{"q": {strings.Repeat("x", maxQueryBytes+1)}}, "q"},
	} {
		_, errs := parseTail(c.v, now)
		if len(errs) != 1 || errs[0].Field != c.field {
			t.Errorf("%v: errors %v, want one naming %s", c.v, errs, c.field)
		}
	}
}

// The tail's query follows the read time: event.created where the
// document has it, else @timestamp; with the search's query and filters.
func TestTailESBody(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r, errs := parseTail(url.Values{"q": {"disk"}, "topic": {"app"}, "since": {"2026-12-03T09:59:30Z"}}, now)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var body struct {
		Size  int `json:"size"`
		Query struct {
			Bool struct {
				Filter []map[string]json.RawMessage `json:"filter"`
				Must   struct {
					QueryString struct {
						Query string `json:"query"`
					} `json:"query_string"`
				} `json:"must"`
			} `json:"bool"`
		} `json:"query"`
		Sort []map[string]json.RawMessage `json:"sort"`
		Aggs json.RawMessage              `json:"aggs"`
	}
	if err := json.Unmarshal(r.esBody(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Size != defaultSearchSize || body.Query.Bool.Must.QueryString.Query != "disk" || len(body.Query.Bool.Filter) != 2 || body.Aggs != nil || len(body.Sort) != 2 {
		t.Fatalf("body %s", r.esBody())
	}
	read, topic := string(body.Query.Bool.Filter[0]["bool"]), string(body.Query.Bool.Filter[1]["terms"])
	for _, want := range []string{
		`{"range":{"event.created":{"gte":"2026-12-03T09:58:30Z"}}}`,
		`"must_not":{"exists":{"field":"event.created"}}`,
		`"filter":{"range":{"@timestamp":{"gte":"2026-12-03T09:58:30Z"}}}`,
		`"minimum_should_match":1`,
	} {
		if !strings.Contains(read, want) {
			t.Errorf("read-time filter %s holds no %s", read, want)
		}
	}
	if topic != `{"event.dataset":["app"]}` {
		t.Errorf("topic filter %s", topic)
	}
}

// GET /api/tail in local mode: the events read in the window (by
// event.created, else @timestamp) that match, newest first by
// @timestamp; an event read late with an old @timestamp is in, one read
// before the window is not.
func TestTailLocalFiles(t *testing.T) {
	dataDir := t.TempDir()
	cfg := config.Default()
	cfg.Etcd = embeddedEtcd(t)
	cfg.Console.Token = "tok-0123456789abcdefghijkl"
	cfg.Brun.DataDir, cfg.ES.Endpoints = dataDir, nil
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s := New(&cfg, newClient(t, cfg.Etcd), cfg.Console.Token)
	s.now = func() time.Time { return now }
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	w := &apiWorld{t: t, srv: srv, cfg: &cfg, token: cfg.Console.Token}

	store, err := filestore.Open(cfg.LocalESDir(), 24*time.Hour, now, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	type fixture struct {
		id, level, msg string
		at, created    time.Duration // before now; created 0: none
		topic          string
	}
	fixtures := []fixture{
		{"now", "info", "request handled", 10 * time.Second, 0, "web"},
		{"late", "error", "disk full", 2 * time.Hour, 20 * time.Second, "web"}, // an agent catching up
		{"old", "error", "disk full", 10 * time.Minute, 0, "web"},              // read before the window
		{"pinned-old", "error", "disk full", 5 * time.Second, 10 * time.Minute, "web"},
		{"db", "error", "disk full", 30 * time.Second, 0, "db"},
		{"edge", "warn", "slow", 90 * time.Second, 0, "web"}, // in the default window only
	}
	var docs []filestore.Doc
	for _, f := range fixtures {
		ev := map[string]any{"id": f.id, "dataset": f.topic}
		if f.created > 0 {
			ev["created"] = now.Add(-f.created).Format(time.RFC3339Nano)
		}
		src, _ := json.Marshal(map[string]any{"@timestamp": now.Add(-f.at).Format(time.RFC3339Nano), "message": f.msg,
			"event": ev, "log": map[string]any{"level": f.level}, "agent": map[string]any{"id": "10.0.0.1"}})
		docs = append(docs, filestore.Doc{Index: f.topic + "-2026.12.03", ID: f.id, Source: src})
	}
	if _, err := store.Write(docs, now); err != nil {
		t.Fatal(err)
	}
	tailOf := func(v url.Values) TailAnswer {
		t.Helper()
		resp, body := w.call("GET", "/api/tail?"+v.Encode(), "")
		if resp.StatusCode != 200 {
			t.Fatalf("tail %v: %s\n%s", v, resp.Status, body)
		}
		var a TailAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	ids := func(a TailAnswer) string {
		var out []string
		for _, h := range a.Hits {
			out = append(out, h.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		v     url.Values
		want  string
		total int64
	}{
		{url.Values{"since": {now.Add(-30 * time.Second).Format(time.RFC3339)}}, "now,db,edge,late", 4},
		{url.Values{"since": {now.Add(-10 * time.Second).Format(time.RFC3339)}}, "now,db,late", 3},
		{url.Values{}, "now,db,late", 3},
		{url.Values{"q": {"disk"}, "topic": {"web"}}, "late", 1},
		{url.Values{"level": {"error"}}, "db,late", 2},
		{url.Values{"since": {now.Add(-30 * time.Second).Format(time.RFC3339)}, "size": {"2"}}, "now,db", 4},
	} {
		a := tailOf(c.v)
		if got := ids(a); got != c.want || a.Total != c.total || a.Source != "files" || !a.Next.Equal(now) {
			t.Errorf("tail %v: %q (total %d, source %s, next %s); want %q (total %d), next %s", c.v, got, a.Total, a.Source, a.Next, c.want, c.total, now)
		}
	}
	if a := tailOf(url.Values{"since": {now.Add(-20 * time.Second).Format(time.RFC3339)}}); !a.Since.Equal(now.Add(-20*time.Second - tailLag)) {
		t.Errorf("since %s, want %s", a.Since, now.Add(-20*time.Second-tailLag))
	}
	if resp, _ := w.raw("GET", "/api/tail", ""); resp.StatusCode != 401 {
		t.Errorf("without the token: %s", resp.Status)
	}
	resp, body := w.call("GET", "/api/tail?q=disk+OR+full", "")
	if resp.StatusCode != 400 || !strings.Contains(string(body), "OR needs Elasticsearch") {
		t.Errorf("q=disk OR full: %s %s", resp.Status, body)
	}

	// Every slot taken: 429, and when to ask again.
	for i := 0; i < maxTails; i++ {
		s.tails <- struct{}{}
	}
	resp, body = w.call("GET", "/api/tail", "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != tailRetryAfter || !strings.Contains(string(body), fmt.Sprintf("%d live tails", maxTails)) {
		t.Errorf("with every slot taken: %s (Retry-After %q) %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	for i := 0; i < maxTails; i++ {
		<-s.tails
	}
	if resp, body = w.call("GET", "/api/tail", ""); resp.StatusCode != 200 {
		t.Errorf("with the slots free again: %s %s", resp.Status, body)
	}
}
