package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/testkit"
)

// The attack: a page at evil.example rebinds its name to the
// console's address and PUTs a job for /etc/shadow, then reads its events.
// Every step is 421, even with the token, and nothing is written.
func TestDNSRebindingWritesNothing(t *testing.T) {
	w := newAPIWorld(t)
	for _, host := range []string{"evil.example", "evil.example:8080", strings.TrimPrefix(w.srv.URL, "http://") + ".evil.example"} {
		res, body := w.call("PUT", "/api/agents/a1/jobs/shadow", `{"path":"/etc/shadow","topic":"x"}`, "Host", host)
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("PUT with Host %s: %s %s, want 421", host, res.Status, body)
		}
		securityHeaders(t, "421", res)
	}
	if keys := w.keys(); len(keys) != 0 {
		t.Fatalf("a foreign Host wrote %q", keys)
	}
	w.put("job/a1/shadow", `{"path":"/etc/shadow","topic":"x"}`)
	for _, path := range []string{"/api/jobs", "/api/agents/a1/jobs/shadow", "/api/agents/a1/jobs/shadow/events"} {
		if res, body := w.call("GET", path, "", "Host", "evil.example"); res.StatusCode != http.StatusMisdirectedRequest || strings.Contains(string(body), "shadow") {
			t.Errorf("GET %s with a foreign Host: %s %s, want 421 and nothing of the job", path, res.Status, body)
		}
	}
	// The same requests by the console's own address go through.
	if res, body := w.call("GET", "/api/agents/a1/jobs/shadow", ""); res.StatusCode != 200 {
		t.Fatalf("GET by the console's address: %s %s", res.Status, body)
	}
}

// Writes from another origin, another site or without JSON are refused
// and change nothing, even with a valid credential.
func TestForeignOriginWritesNothing(t *testing.T) {
	w := newAPIWorld(t)
	key := w.prefix + "job/a1/app"
	w.put("job/a1/app", `{"path":"/var/log/app.log","topic":"app"}`)
	cases := []struct {
		headers []string
		code    int
	}{
		{[]string{"Origin", "http://evil.example"}, 403},
		{[]string{"Origin", "null"}, 403},
		{[]string{"Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Content-Type", ""}, 415},
		{[]string{"Content-Type", "text/plain"}, 415},
		{[]string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
	}
	for _, c := range cases {
		for _, r := range []struct{ method, path, body string }{
			{"PUT", "/api/agents/a1/jobs/app", `{"path":"/etc/shadow","topic":"app"}`},
			{"PUT", "/api/agents/a1/jobs/shadow", `{"path":"/etc/shadow","topic":"x"}`},
			{"DELETE", "/api/agents/a1/jobs/app", ""},
			{"DELETE", "/api/jobs?key=" + key, ""},
		} {
			res, body := w.call(r.method, r.path, r.body, c.headers...)
			if res.StatusCode != c.code {
				t.Errorf("%s %s with %q: %s %s, want %d", r.method, r.path, c.headers, res.Status, body, c.code)
			}
		}
	}
	if got, keys := w.etcdGet(key), w.keys(); got != `{"path":"/var/log/app.log","topic":"app"}` || len(keys) != 1 {
		t.Fatalf("after refused writes: %s = %q, keys %q; want the job unchanged and alone", key, got, keys)
	}
}

// The page's way in: the login URL's cookie lets it read and write, with
// its own Origin, and logging out ends that.
func TestCookieSessionReadsAndWrites(t *testing.T) {
	w := newAPIWorld(t)
	res, _ := w.raw("GET", "/login?token="+w.token, "")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("/login: %s", res.Status)
	}
	cookie := sessionCookie + "=" + sessionCookieOf(t, res).Value
	page := []string{"Cookie", cookie, "Origin", w.srv.URL, "Sec-Fetch-Site", "same-origin"}
	res, body := w.raw("PUT", "/api/agents/a1/jobs/app", `{"path":"/var/log/app.log","topic":"app"}`, with(page, jsonCT...)...)
	if res.StatusCode != http.StatusCreated || w.etcdGet(w.prefix+"job/a1/app") == "" {
		t.Fatalf("PUT with the session cookie: %s %s", res.Status, body)
	}
	if res, body = w.raw("GET", "/api/jobs", "", page...); res.StatusCode != 200 || !strings.Contains(string(body), `"name":"app"`) {
		t.Fatalf("GET /api/jobs with the session cookie: %s %s", res.Status, body)
	}
	res, _ = w.raw("POST", "/api/logout", "{}", with(page, jsonCT...)...)
	if c := sessionCookieOf(t, res); c.MaxAge >= 0 {
		t.Fatalf("logout left the cookie: %+v", c)
	}
	if res, body = w.raw("GET", "/api/jobs", "", "Origin", w.srv.URL); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/jobs with no cookie: %s %s", res.Status, body)
	}
}

// Every key under job/ is listed; those that are no job with the reason,
// and the agent and name as far as they can be read. Each can be deleted
// by its key, and the deletion is logged.
func TestOddJobKeysListedAndDeletable(t *testing.T) {
	w := newAPIWorld(t)
	var logs bytes.Buffer
	logrus.SetOutput(&logs)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })
	cases := []struct {
		key         string // under the prefix
		agent, name string
		says        string // in invalid; "" for a job
	}{
		{"job/a1/ok", "a1", "ok", ""},
		{"job/a1/", "a1", "", "the job name is empty"},
		{"job/a1/a/b", "a1", "a/b", "holds a '/'"},
		{"job/a1/a b", "a1", "a b", "is not 1 to 128"},
		{"job/a1/..", "a1", "..", "is not 1 to 128"},
		{"job/a1/" + strings.Repeat("n", 129), "a1", strings.Repeat("n", 129), "is not 1 to 128"},
		{"job/a2", "a2", "", "no job name"},
		{"job/", "", "", "no job name"},
		{"job//x", "", "x", "the agent id is empty"},
		{"job/a b/x", "", "x", "holds spaces"},
	}
	for _, c := range cases {
		w.put(c.key, `{"path":"/var/log/x.log","topic":"x"}`)
	}
	res, body := w.call("GET", "/api/jobs", "")
	var jobs []Job
	if err := json.Unmarshal(body, &jobs); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /api/jobs: %s %s", res.Status, body)
	}
	byKey := map[string]Job{}
	for _, j := range jobs {
		byKey[j.Key] = j
	}
	if len(jobs) != len(cases) {
		t.Errorf("listed %d keys, want %d: %s", len(jobs), len(cases), body)
	}
	for _, c := range cases {
		j, ok := byKey[w.prefix+c.key]
		if !ok {
			t.Errorf("%s is not listed", c.key)
			continue
		}
		if j.Agent != c.agent || j.Name != c.name || (c.says == "") != (j.Invalid == "") || !strings.Contains(j.Invalid, c.says) {
			t.Errorf("%s listed as agent %q name %q invalid %q; want %q %q saying %q", c.key, j.Agent, j.Name, j.Invalid, c.agent, c.name, c.says)
		}
	}
	// a1's keys are in a1's listing, and a1 counts them; no agent "" exists.
	res, body = w.call("GET", "/api/agents/a1/jobs", "")
	jobs = nil
	json.Unmarshal(body, &jobs)
	if len(jobs) != 6 {
		t.Errorf("GET /api/agents/a1/jobs: %d keys, want 6: %s", len(jobs), body)
	}
	_, body = w.call("GET", "/api/agents", "")
	var agents []Agent
	json.Unmarshal(body, &agents)
	ids := []string{}
	for _, a := range agents {
		ids = append(ids, fmt.Sprintf("%s:%d", a.ID, a.Jobs))
	}
	if !slices.Equal(ids, []string{"a1:6", "a2:1"}) {
		t.Errorf("agents %v, want a1 with 6 keys and a2 with 1", ids)
	}

	// Each key is deleted by its key, with If-Match too; then it is 404.
	for _, c := range cases {
		key := w.prefix + c.key
		res, body := w.call("DELETE", "/api/jobs?key="+urlQuery(key), "", "If-Match", etag(byKey[key].Revision))
		if res.StatusCode != 200 || w.etcdGet(key) != "" {
			t.Errorf("DELETE key %q: %s %s; etcd has %q", key, res.Status, body, w.etcdGet(key))
		}
		if res, body := w.call("DELETE", "/api/jobs?key="+urlQuery(key), ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("DELETE of deleted key %q: %s %s, want 404", key, res.Status, body)
		}
	}
	if !strings.Contains(logs.String(), `key="`+w.prefix+`job/a1/a b"`) || !strings.Contains(logs.String(), "op=delete") {
		t.Errorf("the deletion of job/a1/a b was not logged:\n%s", logs.String())
	}

	// The key route deletes job keys only.
	w.put("agent/a1", `{"id":"a1"}`)
	for _, key := range []string{"", w.prefix + "agent/a1", w.prefix + "jobx", "/other/job/a1/x", w.prefix + "job"} {
		res, body := w.call("DELETE", "/api/jobs?key="+urlQuery(key), "")
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"key"`) {
			t.Errorf("DELETE key %q: %s %s, want 400 naming key", key, res.Status, body)
		}
	}
	if w.etcdGet(w.prefix+"agent/a1") == "" {
		t.Error("the key route deleted an agent's registration")
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "#", "%23").Replace(s)
}

// A stored value is written as stored, compact, whatever its depth; one
// over 64 KiB is left out (too_large, size). No key makes the listing
// much larger than the stored values themselves.
func TestListingDoesNotAmplify(t *testing.T) {
	w := newAPIWorld(t)
	deep := `{"path":"/a.log","topic":"a","fields":` + strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000) + "}"
	large := `{"path":"/a.log","topic":"a","fields":{"x":"` + strings.Repeat("<", maxJobBytes) + `"}}`
	raw := "not json \x00\x01 <>&"
	pretty := "{\n    \"path\": \"/a.log\",\n    \"topic\": \"a\"\n}"
	w.put("job/a1/deep", deep)
	w.put("job/a1/large", large)
	w.put("job/a1/raw", raw)
	w.put("job/a1/pretty", pretty)

	res, body := w.call("GET", "/api/jobs", "")
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/jobs: %s %.300s", res.Status, body)
	}
	if limit := len(deep) + len(raw)*6 + len(pretty) + 4096; len(body) > limit {
		t.Fatalf("GET /api/jobs is %d bytes for %d bytes of values shown: want at most %d", len(body), len(deep)+len(raw)+len(pretty), limit)
	}
	var jobs []Job
	if err := json.Unmarshal(body, &jobs); err != nil || len(jobs) != 4 {
		t.Fatalf("GET /api/jobs: %v, %d jobs", err, len(jobs))
	}
	got := map[string]Job{}
	for _, j := range jobs {
		got[j.Name] = j
	}
	if string(got["deep"].Value) != deep {
		t.Errorf("the deep value is not written as stored")
	}
	if l := got["large"]; !l.TooLarge || l.Size != len(large) || l.Value != nil || l.Raw != "" {
		t.Errorf("a %d-byte value: too_large %v size %d, value %d bytes, raw %d bytes; want left out", len(large), l.TooLarge, l.Size, len(l.Value), len(l.Raw))
	}
	if got["raw"].Raw != raw || got["raw"].Value != nil {
		t.Errorf("a value that is no JSON: raw %q value %s", got["raw"].Raw, got["raw"].Value)
	}
	if string(got["pretty"].Value) != `{"path":"/a.log","topic":"a"}` {
		t.Errorf("an indented value is shown as %s, want it compact", got["pretty"].Value)
	}
	// The agent's own listing and the single job are bounded the same way.
	if res, body := w.call("GET", "/api/agents/a1/jobs/large", ""); res.StatusCode != 200 || len(body) > 1024 || !strings.Contains(string(body), `"too_large":true`) {
		t.Errorf("GET of the large job: %s, %d bytes", res.Status, len(body))
	}
}

// A PUT body over 64 KiB is 413, a value nesting deeper than 16 is 400
// naming the problem; neither writes anything.
func TestPutJobLimits(t *testing.T) {
	w := newAPIWorld(t)
	deep := `{"path":"/a.log","topic":"a","fields":` + strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000) + "}"
	res, body := w.call("PUT", "/api/agents/a1/jobs/deep", deep)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "fields") || !strings.Contains(string(body), "nests deeper") {
		t.Errorf("PUT of a 1,000-deep fields: %s %.300s, want 400 naming fields and the depth", res.Status, body)
	}
	large := `{"path":"/a.log","topic":"a","fields":{"x":"` + strings.Repeat("x", maxJobBytes) + `"}}`
	res, body = w.call("PUT", "/api/agents/a1/jobs/large", large)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "64 KiB") {
		t.Errorf("PUT of %d bytes: %s %s, want 413 saying 64 KiB", len(large), res.Status, body)
	}
	if keys := w.keys(); len(keys) != 0 {
		t.Errorf("refused PUTs wrote %q", keys)
	}
}

// Run serves with the token Token gives brun's start: the generated one
// in data.dir/console.token.
func TestRunUsesTheGeneratedToken(t *testing.T) {
	cfg := config.Default()
	cfg.Etcd = embeddedEtcd(t)
	cfg.Brun.DataDir = t.TempDir()
	cfg.Console.Listen = testkit.FreeAddr(t)
	cli := newClient(t, cfg.Etcd)
	token, generated, err := Token(&cfg)
	if err != nil || !generated {
		t.Fatalf("Token: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, &cfg, cli) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + cfg.Console.Listen
	testkit.WaitFor(t, 10*time.Second, "the console", func() bool {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	})
	if res, body := do(t, "GET", base+"/api/agents", nil, "Authorization", "Bearer "+token); res.StatusCode != 200 {
		t.Errorf("GET /api/agents with the generated token: %s %s", res.Status, body)
	}
	if res, _ := do(t, "GET", base+"/login?token="+token, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the login URL with the generated token: %s, want 303", res.Status)
	}
	if res, _ := do(t, "GET", base+"/api/agents", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/agents without a credential: %s, want 401", res.Status)
	}
}
