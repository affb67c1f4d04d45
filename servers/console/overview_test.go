package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"brun/base/config"
	"brun/base/testkit"
	"brun/servers/status"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// newOverviewWorld is an apiWorld whose console watches the status keys
// of its etcd, at clock's time.
func newOverviewWorld(t *testing.T, clock *testClock) *apiWorld {
	t.Helper()
	cfg := config.Default()
	cfg.Etcd = embeddedEtcd(t)
	cfg.Etcd.Prefix = "/logagent/"
	cfg.Console.Token = "tok-0123456789abcdefghijkl"
	cli := newClient(t, cfg.Etcd)
	s := New(&cfg, cli, cfg.Console.Token)
	s.now = clock.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.watchStatus(ctx); close(done) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &apiWorld{t: t, srv: srv, cli: cli, cfg: &cfg, prefix: cfg.Etcd.Prefix, token: cfg.Console.Token}
}

// overview returns GET /api/overview's answer.
func (w *apiWorld) overview(query string) Overview {
	w.t.Helper()
	res, body := w.call("GET", "/api/overview"+query, "")
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("GET /api/overview%s: %s %s", query, res.Status, body)
	}
	var o Overview
	if err := json.Unmarshal(body, &o); err != nil {
		w.t.Fatalf("GET /api/overview%s: %v in %s", query, err, body)
	}
	return o
}

// putStatus writes agent's status as the agent does.
func (w *apiWorld) putStatus(agent string, st status.Agent) {
	w.t.Helper()
	b, _ := json.Marshal(st)
	w.put("status/"+agent, string(b))
}

// The console watches the status keys: what agents write shows in
// /api/overview as rates over time, lag and errors; an agent whose key is
// deleted is shown down. The route needs the token.
func TestOverviewAPIFollowsStatusKeys(t *testing.T) {
	clock := &testClock{now: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	w := newOverviewWorld(t, clock)
	if res, _ := w.raw("GET", "/api/overview", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/overview without a credential: %s, want 401", res.Status)
	}
	if res, _ := w.call("GET", "/api/overview?agent=a/b", ""); res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /api/overview?agent=a/b: %s, want 400", res.Status)
	}
	if o := w.overview(""); len(o.Agents) != 0 || o.WindowSeconds != 3600 || o.StepSeconds != 10 {
		t.Fatalf("overview of an empty etcd: %+v", o)
	}

	agentClock := time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)
	lines := []int64{100, 350, 600, 20} // the last after a restart
	for i, n := range lines {
		if i > 0 {
			clock.Add(10 * time.Second)
		}
		at := agentClock.Add(time.Duration(i) * 10 * time.Second)
		w.putStatus("web-1", status.Agent{ID: "web-1", Updated: at, Jobs: []status.Job{
			{Name: "nginx", State: status.Running, Topic: "nginx", Path: "/var/log/nginx/access.log", Lines: n, Acked: n,
				Files: []status.File{{Path: "/var/log/nginx/access.log", Lag: 4096, OldestUnacked: at.Add(-3 * time.Second)}}},
			{Name: "audit", State: status.Forbidden, Error: "path /etc/audit is outside agent.allow", Topic: "audit", Path: "/etc/audit"},
		}})
		testkit.WaitFor(t, 10*time.Second, "the console to see report "+string(rune('0'+i)), func() bool {
			o := w.overview("?agent=web-1")
			return len(o.Agents) == 1 && len(o.Agents[0].Jobs) == 2 && o.Agents[0].Jobs[1].Lines == n
		})
	}
	w.putStatus("db-1", status.Agent{ID: "db-1", Updated: agentClock, Jobs: []status.Job{{Name: "pg", State: status.Waiting}}})
	testkit.WaitFor(t, 10*time.Second, "the console to see db-1", func() bool { return len(w.overview("").Agents) == 2 })

	o := w.overview("?agent=web-1")
	if len(o.Agents) != 1 || !o.Agents[0].Alive || !o.Agents[0].Updated.Equal(agentClock.Add(30*time.Second)) {
		t.Fatalf("agents %+v, want web-1 alive, updated at its last report", o.Agents)
	}
	audit, nginx := o.Agents[0].Jobs[0], o.Agents[0].Jobs[1]
	wantRates := []float64{25, 25, 2}
	if len(nginx.Points) != 3 {
		t.Fatalf("nginx points %+v, want rates %v", nginx.Points, wantRates)
	}
	for i, p := range nginx.Points {
		if p.Rate != wantRates[i] || p.T != clock.Now().Add(time.Duration(i-2)*10*time.Second).Unix() {
			t.Errorf("nginx point %d: %+v, want %v lines/s at %v", i, p, wantRates[i], clock.Now().Add(time.Duration(i-2)*10*time.Second))
		}
	}
	if nginx.Rate == nil || *nginx.Rate != 2 || nginx.LagBytes != 4096 || nginx.LagSeconds != 3 || nginx.Errors != 0 || nginx.Topic != "nginx" {
		t.Errorf("nginx %+v: want 2 lines/s now, 4096 bytes and 3 s of lag, no error, topic nginx", nginx)
	}
	if audit.State != status.Forbidden || audit.Errors != 1 || audit.LastError != "path /etc/audit is outside agent.allow" {
		t.Errorf("audit %+v: want forbidden, 1 error, its text", audit)
	}

	if _, err := w.cli.Delete(context.Background(), w.prefix+"status/web-1"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "web-1 shown down once its key is gone", func() bool {
		o := w.overview("?agent=web-1")
		return len(o.Agents) == 1 && !o.Agents[0].Alive
	})
	clock.Add(time.Hour + time.Second)
	if o := w.overview(""); len(o.Agents) != 1 || o.Agents[0].ID != "db-1" || len(o.Agents[0].Jobs) != 0 {
		t.Errorf("an hour on, agents %+v: want db-1 alone (its key stays), without its hour-old job", o.Agents)
	}
}
