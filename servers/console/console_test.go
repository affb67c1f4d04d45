package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"brun/base/config"
	"brun/base/metrics"
)

// testServer is a console with no etcd client: enough for every route that
// answers before touching etcd (a request that reached etcd would panic).
func testServer(token string, checks ...check) *httptest.Server {
	srv, _ := testServerWith(token, nil, checks...)
	return srv
}

// testServerWith is testServer with the configuration changed by edit; it
// also returns the Server, whose clock a test may set.
func testServerWith(token string, edit func(*config.Config), checks ...check) (*httptest.Server, *Server) {
	cfg := config.Default()
	cfg.Console.Token = token
	cfg.Etcd.Prefix = "/test/"
	if edit != nil {
		edit(&cfg)
	}
	s := New(&cfg, nil, token)
	s.checks = checks
	return httptest.NewServer(s.Handler()), s
}

// do sends one request; headers are name, value pairs, and a "Host" pair
// sets the request's Host. Redirects are not followed.
func do(t *testing.T, method, url string, body io.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, data
}

// noRedirect is a client that shows a redirect instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// jsonCT is the header pair every request that changes something needs.
var jsonCT = []string{"Content-Type", "application/json"}

func with(headers []string, more ...string) []string {
	return append(append([]string{}, headers...), more...)
}

func TestLoopback(t *testing.T) {
	cases := []struct {
		listen string
		want   bool
	}{
		{"127.0.0.1:8080", true},
		{"localhost:8080", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"10.0.0.7:8080", false},
		{"nonsense", false},
	}
	for _, c := range cases {
		if got := config.IsLoopback(c.listen); got != c.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", c.listen, got, c.want)
		}
	}
}

func TestRunRefusesOpenAddressWithoutToken(t *testing.T) {
	cfg := config.Default()
	cfg.Console.Listen = "0.0.0.0:0"
	err := Run(context.Background(), &cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "console.token") || !strings.Contains(err.Error(), "0.0.0.0:0") {
		t.Fatalf("Run on 0.0.0.0 without a token: %v, want an error naming console.token and the address", err)
	}
}

// Every API route answers 401 before it reads etcd (the server has no
// etcd client: a request that got through would panic), with a wrong
// token, a wrong scheme, a forged or stale cookie, or nothing.
func TestAPIRequiresCredential(t *testing.T) {
	srv, s := testServerWith("s3cret-token-of-the-console", nil)
	defer srv.Close()
	routes := []struct{ method, path string }{
		{"GET", "/api/agents"},
		{"GET", "/api/jobs"},
		{"GET", "/api/agents/a1/jobs"},
		{"GET", "/api/agents/a1/jobs/j"},
		{"PUT", "/api/agents/a1/jobs/j"},
		{"DELETE", "/api/agents/a1/jobs/j"},
		{"DELETE", "/api/jobs?key=/test/job/a1/j"},
		{"GET", "/api/agents/a1/jobs/j/events"},
		{"GET", "/api/nothing"},
		{"OPTIONS", "/api/agents"}, // a CORS preflight gets nothing either
	}
	expired := s.sessionValue(s.now().Add(-time.Minute))
	credentials := [][]string{
		nil,
		{"Authorization", "Bearer wrong"},
		{"Authorization", "Bearer s3cret-token-of-the-console2"},
		{"Authorization", "Bearer "},
		{"Authorization", "Basic s3cret-token-of-the-console"},
		{"Authorization", "s3cret-token-of-the-console"},
		{"Cookie", sessionCookie + "=s3cret-token-of-the-console"},
		{"Cookie", sessionCookie + "=" + expired},
		{"Cookie", sessionCookie + "=" + strings.Replace(s.sessionValue(s.now().Add(time.Hour)), ".", "0.", 1)},
	}
	for _, r := range routes {
		for _, cred := range credentials {
			res, body := do(t, r.method, srv.URL+r.path, strings.NewReader(`{}`), with(jsonCT, cred...)...)
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "log in") || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %q: %s %s, want 401", r.method, r.path, cred, res.Status, body)
			}
		}
	}
	// With the token the request gets past auth: an unknown route says so.
	res, body := do(t, "GET", srv.URL+"/api/nothing", nil, "Authorization", "Bearer s3cret-token-of-the-console")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no API route") {
		t.Errorf("GET /api/nothing with the token: %s %s, want 404", res.Status, body)
	}
}

// A console made with no token lets no one in, an empty bearer included.
func TestNoTokenLetsNoOneIn(t *testing.T) {
	srv := testServer("")
	defer srv.Close()
	for _, cred := range [][]string{nil, {"Authorization", "Bearer "}, {"Authorization", "Bearer"}} {
		if res, body := do(t, "GET", srv.URL+"/api/agents", nil, cred...); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /api/agents with %q and no token: %s %s, want 401", cred, res.Status, body)
		}
	}
	if res, _ := do(t, "GET", srv.URL+"/login?token=", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/login?token= with no token: %s, want 401", res.Status)
	}
}

func TestPageAndOpsNeedNoToken(t *testing.T) {
	srv := testServer("s3cret")
	defer srv.Close()
	cases := []struct {
		path, contains, header string
	}{
		{"/", `<script src="app.js"`, "Content-Security-Policy"},
		{"/app.js", "/api/login", ""},
		{"/style.css", ".state.running", ""},
		{"/healthz", "ok", ""},
		{"/metrics", "brun_registered_agents", ""},
	}
	for _, c := range cases {
		res, body := do(t, "GET", srv.URL+c.path, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %s, body without %q", c.path, res.Status, c.contains)
		}
		if c.header != "" && res.Header.Get(c.header) == "" {
			t.Errorf("GET %s: no %s header", c.path, c.header)
		}
	}
}

func TestMetricsServeConsoleSeries(t *testing.T) {
	metrics.RegisteredAgents.Set(3)
	metrics.ConfiguredJobs.Set(7)
	srv := testServer("")
	defer srv.Close()
	_, body := do(t, "GET", srv.URL+"/metrics", nil)
	for _, want := range []string{"brun_registered_agents 3", "brun_configured_jobs 7", "brun_agent_unacked_events", "brun_transfer_queue_depth", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
}

func TestReadyz(t *testing.T) {
	ok := check{name: "etcd", target: "e", probe: func(context.Context) error { return nil }}
	down := check{name: "kafka", target: "k", probe: func(context.Context) error { return errors.New("connection refused") }}
	cases := []struct {
		checks  []check
		code    int
		failing []string
	}{
		{[]check{ok}, 200, []string{}},
		{[]check{ok, down}, 503, []string{"kafka"}},
	}
	for _, c := range cases {
		srv := testServer("", c.checks...)
		res, body := do(t, "GET", srv.URL+"/readyz", nil)
		srv.Close()
		var got struct {
			Ready   bool          `json:"ready"`
			Failing []string      `json:"failing"`
			Checks  []checkResult `json:"checks"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("/readyz body %s: %v", body, err)
		}
		if res.StatusCode != c.code || got.Ready != (c.code == 200) || !slices.Equal(got.Failing, c.failing) || len(got.Checks) != len(c.checks) {
			t.Errorf("/readyz with %d checks: %s %s, want %d failing %v", len(c.checks), res.Status, body, c.code, c.failing)
		}
		if c.code == 503 && !strings.Contains(string(body), "connection refused") {
			t.Errorf("/readyz does not say why kafka failed: %s", body)
		}
	}
}

// /readyz checks the servers of the roles it runs, but not those brun
// stands in for (empty endpoints).
func TestChecksFollowRoles(t *testing.T) {
	cases := []struct {
		roles     []string
		kafka, es bool // endpoints set
		want      []string
	}{
		{[]string{"console"}, true, true, []string{"etcd"}},
		{[]string{"agent"}, true, true, []string{"etcd", "kafka"}},
		{[]string{"agent", "console"}, true, true, []string{"etcd", "kafka"}},
		{[]string{"transfer"}, true, true, []string{"etcd", "kafka", "elasticsearch"}},
		{[]string{"agent", "transfer"}, false, true, []string{"etcd", "elasticsearch"}},
		{[]string{"transfer"}, true, false, []string{"etcd", "kafka"}},
		{[]string{"agent", "transfer", "console"}, false, false, []string{"etcd"}},
	}
	for _, c := range cases {
		cfg := config.Default()
		cfg.Brun.Roles = c.roles
		if c.kafka {
			cfg.Kafka.Endpoints = []string{"127.0.0.1:9092"}
		}
		if c.es {
			cfg.ES.Endpoints = []string{"http://127.0.0.1:9200"}
		}
		var got []string
		for _, ch := range checksFor(&cfg, nil) {
			got = append(got, ch.name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("roles %v, kafka %v, es %v: checks %v, want %v", c.roles, c.kafka, c.es, got, c.want)
		}
	}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeES(t *testing.T) {
	// Like the integ-test-zip distribution: / is 405, _cluster/health works.
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_cluster/health" {
			w.Header().Set("X-Elastic-Product", "Elasticsearch") // as Elasticsearch 8 answers
			w.Write([]byte(`{"status":"green"}`))
			return
		}
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	defer es.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	cases := []struct {
		url     string
		wantErr string
	}{
		{es.URL, ""},
		{es.URL + "/", ""},
		{broken.URL, "503"},
		{"http://" + closedAddr(t), "refused"},
	}
	for _, c := range cases {
		err := probeES(context.Background(), c.url, config.ES{})
		if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("probeES(%s) = %v, want error containing %q", c.url, err, c.wantErr)
		}
	}
}

func TestProbeKafka(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed := closedAddr(t)
	if err := probeKafka(context.Background(), ln.Addr().String(), config.TLS{}); err != nil {
		t.Errorf("probeKafka of a listening port: %v", err)
	}
	err = anyOf(context.Background(), []string{closed}, func(ctx context.Context, a string) error { return probeKafka(ctx, a, config.TLS{}) })
	if err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("probeKafka of a closed port: %v, want an error naming %s", err, closed)
	}
	if err := anyOf(context.Background(), []string{closed, ln.Addr().String()}, func(ctx context.Context, a string) error { return probeKafka(ctx, a, config.TLS{}) }); err != nil {
		t.Errorf("one broker of two answering: %v, want ready", err)
	}
}

func TestIfMatch(t *testing.T) {
	cases := []struct {
		ifMatch, ifNoneMatch string
		rev                  int64
		conditional, bad     bool
	}{
		{"", "", 0, false, false},
		{`"42"`, "", 42, true, false},
		{`42`, "", 42, true, false},
		{`W/"42"`, "", 42, true, false},
		{"", "*", 0, true, false},
		{`"0"`, "", 0, true, false},
		{`"abc"`, "", 0, false, true},
		{`"-3"`, "", 0, false, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("PUT", "/", nil)
		if c.ifMatch != "" {
			r.Header.Set("If-Match", c.ifMatch)
		}
		if c.ifNoneMatch != "" {
			r.Header.Set("If-None-Match", c.ifNoneMatch)
		}
		rev, cond, bad := ifMatch(r)
		if rev != c.rev || cond != c.conditional || (bad != "") != c.bad {
			t.Errorf("If-Match %q If-None-Match %q: (%d, %v, %q), want (%d, %v, bad=%v)", c.ifMatch, c.ifNoneMatch, rev, cond, bad, c.rev, c.conditional, c.bad)
		}
	}
}

func TestCheckSegment(t *testing.T) {
	cases := []struct {
		v  string
		ok bool
	}{
		{"nginx", true},
		{"10.0.0.7", true},
		{"app_log-1.x", true},
		{"", false},
		{"a/b", false},
		{"a b", false},
		{"a\nb", false},
		{strings.Repeat("x", 254), false},
	}
	for _, c := range cases {
		err := checkSegment("name", c.v)
		if (err == nil) != c.ok {
			t.Errorf("checkSegment(%q) = %+v, want ok=%v", c.v, err, c.ok)
		}
		if err != nil && (len(err.Fields) != 1 || err.Fields[0].Field != "name") {
			t.Errorf("checkSegment(%q) names %+v, want the field name", c.v, err.Fields)
		}
	}
}
