package console

import (
	"net/http"
	"strings"
	"testing"

	"brun/base/config"
)

func TestHostGuardKnows(t *testing.T) {
	g := newHostGuard("console.internal:8080", []string{"logs.example.com", "Brun.Example.org"})
	cases := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1", true},
		{"10.0.0.7:80", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"[fe80::1]:9", true},
		{"localhost:8080", true},
		{"LOCALHOST", true},
		{"localhost.:8080", true},
		{"console.internal:8080", true},
		{"console.internal:9999", true}, // the port is not the name
		{"logs.example.com", true},
		{"brun.example.org:443", true},
		{"", false},
		{"evil.example", false},
		{"evil.example:8080", false},
		{"localhost.evil.example", false},
		{"sub.logs.example.com", false},
		{"example.com", false},
		{"127.0.0.1.evil.example", false},
		{"[evil.example]:80", false},
		{"127.0.0.1:80.evil.example", false},
		{"localhost:1.evil.example", false},
		{"127.0.0.1:", false},
		{"[::1]:x", false},
	}
	for _, c := range cases {
		if got := g.known(c.host); got != c.want {
			t.Errorf("known(%q) = %v, want %v", c.host, got, c.want)
		}
	}
	if newHostGuard("0.0.0.0:8080", nil).known("0.0.0.0.example:8080") {
		t.Error("an IP listen address let a name through")
	}
}

// securityHeaders fails t unless res carries every header the console
// sets on every answer.
func securityHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: Content-Security-Policy %q has no %s", what, csp, d)
		}
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %s %q, want %q", what, h, got, want)
		}
	}
}

// Every route answers 421, with the security headers and without reaching
// its handler, to a Host the console does not know: the DNS-rebinding
// page. The server has no etcd client, so an API request that got through
// would panic instead; the right token does not help.
func TestForeignHostIsMisdirected(t *testing.T) {
	srv := testServer("tok-0123456789abcdefghijkl")
	defer srv.Close()
	routes := []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/app.js"},
		{"GET", "/login?token=tok-0123456789abcdefghijkl"},
		{"GET", "/metrics"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/api/agents"},
		{"GET", "/api/agents/a1/jobs/x/events"},
		{"PUT", "/api/agents/a1/jobs/shadow"},
		{"DELETE", "/api/jobs?key=/test/job/a1/x"},
		{"POST", "/api/login"},
	}
	for _, host := range []string{"evil.example", "evil.example:" + strings.Split(srv.URL, ":")[2], "localhost.evil.example"} {
		for _, r := range routes {
			res, body := do(t, r.method, srv.URL+r.path, strings.NewReader(`{"path":"/etc/shadow","topic":"x"}`),
				"Host", host, "Authorization", "Bearer tok-0123456789abcdefghijkl", "Content-Type", "application/json")
			if res.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(body), "[console] hosts") || len(res.Cookies()) != 0 {
				t.Errorf("%s %s with Host %s: %s %s, want 421 naming [console] hosts", r.method, r.path, host, res.Status, body)
			}
			securityHeaders(t, "421", res)
		}
	}
	// A name in console.hosts is served.
	named, _ := testServerWith("tok-0123456789abcdefghijkl", func(c *config.Config) { c.Console.Hosts = []string{"logs.example.com"} })
	defer named.Close()
	if res, body := do(t, "GET", named.URL+"/healthz", nil, "Host", "logs.example.com"); res.StatusCode != 200 {
		t.Errorf("GET /healthz as logs.example.com, a console.hosts name: %s %s", res.Status, body)
	}
}

// A request that changes something, from another origin or site, is 403;
// one that is not JSON is 415; each before the credential is looked at
// and before anything is written (no etcd client: getting through would
// panic).
func TestCrossSiteWritesRefused(t *testing.T) {
	const token = "tok-0123456789abcdefghijkl"
	srv := testServer(token)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	bearer := []string{"Authorization", "Bearer " + token}
	routes := []struct{ method, path string }{
		{"PUT", "/api/agents/a1/jobs/shadow"},
		{"DELETE", "/api/agents/a1/jobs/shadow"},
		{"DELETE", "/api/jobs?key=/test/job/a1/shadow"},
		{"POST", "/api/login"},
		{"POST", "/api/logout"},
		{"POST", "/api/agents"},
	}
	cases := []struct {
		headers []string
		code    int
		says    string
	}{
		{with(bearer, "Origin", "http://evil.example", "Content-Type", "application/json"), 403, "origin"},
		{with(bearer, "Origin", "null", "Content-Type", "application/json"), 403, "origin"},
		{with(bearer, "Origin", "http://"+host+".evil.example", "Content-Type", "application/json"), 403, "origin"},
		{with(bearer, "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"), 403, "cross-site"},
		{with(bearer, "Sec-Fetch-Site", "same-site", "Origin", "http://"+host, "Content-Type", "application/json"), 403, "same-site"},
		{bearer, 415, "Content-Type: application/json"},
		{with(bearer, "Content-Type", "text/plain"), 415, "Content-Type: application/json"},
		{with(bearer, "Content-Type", "application/x-www-form-urlencoded"), 415, "Content-Type: application/json"},
		{with(bearer, "Content-Type", "multipart/form-data; boundary=x"), 415, "Content-Type: application/json"},
		{with(bearer, "Origin", "http://"+host), 415, "Content-Type: application/json"},
	}
	for _, r := range routes {
		for _, c := range cases {
			res, body := do(t, r.method, srv.URL+r.path, strings.NewReader(`{"token":"`+token+`"}`), c.headers...)
			if res.StatusCode != c.code || !strings.Contains(string(body), c.says) || len(res.Cookies()) != 0 {
				t.Errorf("%s %s with %q: %s %s, want %d saying %q", r.method, r.path, c.headers, res.Status, body, c.code, c.says)
			}
			securityHeaders(t, res.Status, res)
		}
	}
	// The page's own requests pass both checks: its origin (over http or,
	// behind a TLS proxy, https), same-origin, JSON with a charset.
	for _, h := range [][]string{
		{"Origin", "http://" + host, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"},
		{"Origin", "https://" + strings.ToUpper(host), "Content-Type", "application/json; charset=utf-8"},
		{"Sec-Fetch-Site", "none", "Content-Type", "application/json"},
	} {
		res, body := do(t, "POST", srv.URL+"/api/login", strings.NewReader(`{"token":"`+token+`"}`), h...)
		if res.StatusCode != 200 {
			t.Errorf("POST /api/login with %q: %s %s, want 200", h, res.Status, body)
		}
	}
	// Reading is not refused for its origin: GET carries no change.
	res, body := do(t, "GET", srv.URL+"/api/nothing", nil, with(bearer, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")...)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET with a foreign Origin: %s %s, want the route's own 404", res.Status, body)
	}
}

// The security headers are on every kind of answer: the page, its assets,
// the API's errors, 404s of both, 405, /login's 401 and 303, ops routes.
func TestSecurityHeadersEverywhere(t *testing.T) {
	const token = "tok-0123456789abcdefghijkl"
	srv := testServer(token)
	defer srv.Close()
	cases := []struct {
		method, path string
		headers      []string
		code         int
	}{
		{"GET", "/", nil, 200},
		{"GET", "/style.css", nil, 200},
		{"GET", "/no-such-file", nil, 404},
		{"POST", "/", jsonCT, 405},
		{"GET", "/api/agents", nil, 401},
		{"GET", "/api/nothing", []string{"Authorization", "Bearer " + token}, 404},
		{"GET", "/login?token=wrong", nil, 401},
		{"GET", "/login?token=" + token, nil, 303},
		{"POST", "/api/login", []string{"Content-Type", "application/json"}, 400},
		{"GET", "/healthz", nil, 200},
		{"GET", "/metrics", nil, 200},
	}
	for _, c := range cases {
		res, body := do(t, c.method, srv.URL+c.path, strings.NewReader(""), c.headers...)
		if res.StatusCode != c.code {
			t.Errorf("%s %s: %s %s, want %d", c.method, c.path, res.Status, body, c.code)
		}
		securityHeaders(t, c.method+" "+c.path, res)
	}
}
