package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
)

// apiWorld is a console over an etcd of its own, embedded in the test
// process, with authentication on as brun runs it.
type apiWorld struct {
	t      *testing.T
	srv    *httptest.Server
	cli    *clientv3.Client
	cfg    *config.Config
	prefix string
	token  string
}

func newAPIWorld(t *testing.T) *apiWorld { return newAPIWorldWith(t, nil) }

// newAPIWorldWith is newAPIWorld with the configuration changed by edit.
func newAPIWorldWith(t *testing.T, edit func(*config.Config)) *apiWorld {
	t.Helper()
	cfg := config.Default()
	cfg.Etcd = embeddedEtcd(t)
	cfg.Etcd.Prefix = "/logagent/"
	cfg.Console.Token = "tok-0123456789abcdefghijkl"
	if edit != nil {
		edit(&cfg)
	}
	cli := newClient(t, cfg.Etcd)
	srv := httptest.NewServer(New(&cfg, cli, cfg.Console.Token).Handler())
	t.Cleanup(srv.Close)
	return &apiWorld{t: t, srv: srv, cli: cli, cfg: &cfg, prefix: cfg.Etcd.Prefix, token: cfg.Console.Token}
}

// embeddedEtcd starts an etcd member in a temporary directory for t, and
// returns the settings of a client of it (as its root user); it is
// stopped when t ends.
func embeddedEtcd(t *testing.T) config.Etcd {
	t.Helper()
	m, err := etcdx.StartEmbedded(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	e := config.Default().Etcd
	e.Endpoints, e.Username, e.Password = []string{m.Endpoint}, m.Username, m.Password
	return e
}

// newClient returns a client of e, closed when t ends.
func newClient(t *testing.T, e config.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := etcdx.New(e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// call sends a request as the page or a script would: with the bearer
// token and, when it changes something, Content-Type: application/json.
// headers are name, value pairs that add to or replace those ("Host"
// sets the request's Host; an empty value removes a header).
func (w *apiWorld) call(method, path, body string, headers ...string) (*http.Response, []byte) {
	w.t.Helper()
	h := []string{"Authorization", "Bearer " + w.token}
	if method != "GET" {
		h = append(h, jsonCT...)
	}
	return w.raw(method, path, body, append(h, headers...)...)
}

// raw sends a request with exactly headers (name, value pairs).
func (w *apiWorld) raw(method, path, body string, headers ...string) (*http.Response, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		switch {
		case headers[i] == "Host":
			req.Host = headers[i+1]
		case headers[i+1] == "":
			req.Header.Del(headers[i])
		default:
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res, buf.Bytes()
}

// etcdGet returns key's value ("" when absent).
func (w *apiWorld) etcdGet(key string) string {
	w.t.Helper()
	resp, err := w.cli.Get(context.Background(), key)
	if err != nil {
		w.t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// put writes key (under the world's prefix) as etcdctl would.
func (w *apiWorld) put(key, value string) {
	w.t.Helper()
	if _, err := w.cli.Put(context.Background(), w.prefix+key, value); err != nil {
		w.t.Fatalf("put %s: %v", key, err)
	}
}

// keys lists every key under the world's prefix.
func (w *apiWorld) keys() []string {
	w.t.Helper()
	resp, err := w.cli.Get(context.Background(), w.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func TestAPIJobLifecycle(t *testing.T) {
	w := newAPIWorld(t)
	var logs bytes.Buffer
	logrus.SetOutput(&logs)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })
	key := w.prefix + "job/a1/nginx"
	path := "/api/agents/a1/jobs/nginx"

	// Without a credential: 401, and nothing written.
	res, _ := w.raw("PUT", path, `{"path":"/var/log/x.log","topic":"x"}`, jsonCT...)
	if res.StatusCode != http.StatusUnauthorized || w.etcdGet(key) != "" {
		t.Fatalf("PUT without token: %s, etcd %q; want 401 and nothing written", res.Status, w.etcdGet(key))
	}

	// Invalid: 400 naming each bad field, nothing written.
	res, body := w.call("PUT", path, `{"path":"var/log/x.log","topic":"bad topic"}`)
	var bad apiError
	json.Unmarshal(body, &bad)
	fields := map[string]string{}
	for _, f := range bad.Fields {
		fields[f.Field] = f.Reason
	}
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(fields["path"], "not an absolute path") || !strings.Contains(fields["topic"], "not a valid Kafka topic") {
		t.Fatalf("invalid job: %s %s; want 400 naming path and topic", res.Status, body)
	}
	if got := w.etcdGet(key); got != "" {
		t.Fatalf("an invalid job was written: %q", got)
	}

	// Valid: 201, stored compact, revision in body and ETag.
	res, body = w.call("PUT", path, "{\n  \"path\": \"/var/log/nginx/access.log\",\n  \"topic\": \"nginx\"\n}")
	var created Job
	json.Unmarshal(body, &created)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %s", res.Status, body)
	}
	stored := w.etcdGet(key)
	if stored != `{"path":"/var/log/nginx/access.log","topic":"nginx"}` || string(created.Value) != stored {
		t.Fatalf("etcdctl get %s = %q, API answered %s", key, stored, created.Value)
	}
	if got := w.modRevision(key); created.Revision != got || res.Header.Get("ETag") != etag(got) {
		t.Fatalf("create answered revision %d ETag %s, etcd has mod revision %d", created.Revision, res.Header.Get("ETag"), got)
	}

	// Listed, with its revision, for the agent and for all agents.
	for _, list := range []string{"/api/agents/a1/jobs", "/api/jobs"} {
		res, body = w.call("GET", list, "")
		var jobs []Job
		json.Unmarshal(body, &jobs)
		if res.StatusCode != 200 || len(jobs) != 1 || jobs[0].Name != "nginx" || jobs[0].Agent != "a1" || jobs[0].Revision != created.Revision || string(jobs[0].Value) != stored || jobs[0].Invalid != "" {
			t.Fatalf("GET %s: %s %s", list, res.Status, body)
		}
	}

	// Creating again with If-None-Match: * is a conflict.
	res, body = w.call("PUT", path, `{"path":"/other.log","topic":"o"}`, "If-None-Match", "*")
	if res.StatusCode != http.StatusConflict || w.etcdGet(key) != stored {
		t.Fatalf("second create: %s %s; want 409 and the job unchanged", res.Status, body)
	}

	// Replace with the current revision: 200, new revision.
	res, body = w.call("PUT", path, `{"path":"/var/log/nginx/error.log","topic":"nginx"}`, "If-Match", etag(created.Revision))
	var replaced Job
	json.Unmarshal(body, &replaced)
	if res.StatusCode != http.StatusOK || replaced.Revision <= created.Revision || w.etcdGet(key) != `{"path":"/var/log/nginx/error.log","topic":"nginx"}` {
		t.Fatalf("replace: %s %s", res.Status, body)
	}

	// A second editor still holding the first revision: 409, nothing written.
	res, body = w.call("PUT", path, `{"path":"/var/log/stale.log","topic":"nginx"}`, "If-Match", etag(created.Revision))
	var conflict apiError
	json.Unmarshal(body, &conflict)
	if res.StatusCode != http.StatusConflict || conflict.Revision != replaced.Revision || !strings.Contains(w.etcdGet(key), "error.log") {
		t.Fatalf("stale If-Match: %s %s; want 409 with revision %d", res.Status, body, replaced.Revision)
	}
	res, body = w.call("DELETE", path, "", "If-Match", strconv.FormatInt(created.Revision, 10))
	if res.StatusCode != http.StatusConflict || w.etcdGet(key) == "" {
		t.Fatalf("stale DELETE: %s %s; want 409 and the job kept", res.Status, body)
	}

	// Delete: gone from etcd; then 404 for every way of reaching it.
	res, body = w.call("DELETE", path, "", "If-Match", etag(replaced.Revision))
	if res.StatusCode != http.StatusOK || w.etcdGet(key) != "" {
		t.Fatalf("DELETE: %s %s; etcd still has %q", res.Status, body, w.etcdGet(key))
	}
	for _, method := range []string{"DELETE", "GET"} {
		if res, body = w.call(method, path, ""); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s of a deleted job: %s %s, want 404", method, res.Status, body)
		}
	}
	if res, body = w.call("DELETE", "/api/agents/a1/jobs/never", ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of an unknown job: %s %s, want 404", res.Status, body)
	}

	// Each change was logged with the client, key and both values.
	for _, want := range []string{`op=put`, `op=delete`, `key=` + key, `old="{\"path\":\"/var/log/nginx/access.log\"`, `new="{\"path\":\"/var/log/nginx/error.log\"`, `client="127.0.0.1:`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the change log has no %s:\n%s", want, logs.String())
		}
	}
}

func (w *apiWorld) modRevision(key string) int64 {
	w.t.Helper()
	resp, err := w.cli.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 {
		w.t.Fatalf("get %s: %v (%d keys)", key, err, len(resp.Kvs))
	}
	return resp.Kvs[0].ModRevision
}

func TestAPIAgentsAliveAndStatus(t *testing.T) {
	w := newAPIWorld(t)
	ctx := context.Background()
	// Agent a1 as the agent writes itself: registration and status under a
	// lease; agent b2 has a job but never registered.
	lease, err := w.cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer w.cli.Revoke(ctx, lease.ID)
	started := time.Date(2026, 11, 25, 4, 5, 6, 0, time.UTC)
	reg := fmt.Sprintf(`{"id":"a1","hostname":"web-1","ip":"10.0.0.7","version":"v1","pid":42,"roles":["agent"],"started_at":%q}`, started.Format(time.RFC3339))
	st := `{"id":"a1","updated":"2026-11-25T04:06:00Z","jobs":[{"name":"app","state":"running","path":"/a.log","topic":"app","lines":12,"bytes":300,"acked":12,"files":[{"path":"/a.log","offset":300,"size":350,"lag":50}]}]}`
	for k, v := range map[string]string{"agent/a1": reg, "status/a1": st} {
		if _, err := w.cli.Put(ctx, w.prefix+k, v, clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []struct{ agent, name string }{{"a1", "app"}, {"b2", "db"}} {
		if res, body := w.call("PUT", "/api/agents/"+j.agent+"/jobs/"+j.name, `{"path":"/a.log","topic":"app"}`); res.StatusCode != 201 {
			t.Fatalf("create %s/%s: %s %s", j.agent, j.name, res.Status, body)
		}
	}

	res, body := w.call("GET", "/api/agents", "")
	var agents []Agent
	if err := json.Unmarshal(body, &agents); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /api/agents: %s %s", res.Status, body)
	}
	if len(agents) != 2 {
		t.Fatalf("want agents a1 and b2, got %s", body)
	}
	a, b := agents[0], agents[1]
	if a.ID != "a1" || !a.Alive || a.Hostname != "web-1" || a.IP != "10.0.0.7" || a.Version != "v1" || len(a.Roles) != 1 || !a.StartedAt.Equal(started) || a.Jobs != 1 ||
		a.Status == nil || len(a.Status.Jobs) != 1 || a.Status.Jobs[0].Lines != 12 {
		t.Errorf("a1: %+v", a)
	}
	if b.ID != "b2" || b.Alive || b.Status != nil || b.Jobs != 1 {
		t.Errorf("b2 (jobs, no registration) must be listed dead: %+v", b)
	}

	// Each job carries the state its agent reported (none for b2).
	res, body = w.call("GET", "/api/jobs", "")
	var jobs []Job
	json.Unmarshal(body, &jobs)
	if len(jobs) != 2 || jobs[0].Status == nil || jobs[0].Status.State != "running" || jobs[0].Status.Files[0].Lag != 50 || jobs[1].Status != nil {
		t.Fatalf("GET /api/jobs: %s", body)
	}

	// The lease ends (the agent stopped): a1 is listed dead, without status.
	if _, err := w.cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	_, body = w.call("GET", "/api/agents", "")
	agents = nil
	json.Unmarshal(body, &agents)
	if len(agents) != 2 || agents[0].ID != "a1" || agents[0].Alive || agents[0].Status != nil {
		t.Fatalf("after the lease ended: %s", body)
	}
}

func TestAPIRejectsBadNames(t *testing.T) {
	w := newAPIWorld(t)
	cases := []struct{ path, field string }{
		{"/api/agents/a%20b/jobs/x", "agent"},
		{"/api/agents/a1/jobs/x%2Fy", "name"},
		{"/api/agents/a1/jobs/a%20b", "name"},
		{"/api/agents/a1/jobs/%2E%2E", "name"},
		{"/api/agents/a1/jobs/caf%C3%A9", "name"},
		{"/api/agents/a1/jobs/x:y", "name"},
		{"/api/agents/a1/jobs/" + strings.Repeat("n", 129), "name"},
	}
	for _, c := range cases {
		res, body := w.call("PUT", c.path, `{"path":"/a.log","topic":"t"}`)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("PUT %s: %s %s, want 400 naming %s", c.path, res.Status, body, c.field)
		}
	}
	if keys := w.keys(); len(keys) != 0 {
		t.Errorf("bad names wrote keys: %q", keys)
	}
}
