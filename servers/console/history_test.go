package console

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"brun/servers/status"
)

// t0 is an arbitrary start; every time in these tests is relative to it.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// report is one status of agent "a1" with one job per entry of jobs.
func report(at time.Time, jobs ...status.Job) *status.Agent {
	return &status.Agent{ID: "a1", Updated: at, Jobs: jobs}
}

func running(name string, lines int64) status.Job {
	return status.Job{Name: name, State: status.Running, Topic: "t-" + name, Path: "/var/log/" + name, Lines: lines, Acked: lines}
}

func newTestHistory() *History { return NewHistory(time.Hour, 10*time.Second, 10, 20) }

// jobOf returns the overview of agent/job at now, failing t when absent.
func jobOf(t *testing.T, h *History, now time.Time, agent, name string) JobOverview {
	t.Helper()
	for _, a := range h.Overview(now, "").Agents {
		if a.ID != agent {
			continue
		}
		for _, j := range a.Jobs {
			if j.Name == name {
				return j
			}
		}
	}
	t.Fatalf("no job %s/%s in the overview at %v", agent, name, now.Sub(t0))
	return JobOverview{}
}

// A job read at 10 lines/s reported every 5 s: one sample in two is kept,
// every point says 10, and so does the current rate.
func TestHistoryRate(t *testing.T) {
	h := newTestHistory()
	var now time.Time
	for i := 0; i <= 24; i++ { // two minutes
		now = t0.Add(time.Duration(i) * 5 * time.Second)
		h.Observe(now, "a1", report(now, running("app", int64(50*i))))
	}
	j := jobOf(t, h, now, "a1", "app")
	if len(j.Points) != 12 {
		t.Fatalf("%d points over 2 minutes at one sample per 10 s, want 12: %+v", len(j.Points), j.Points)
	}
	for i, p := range j.Points {
		if p.Rate != 10 {
			t.Errorf("point %d: %v lines/s, want 10", i, p.Rate)
		}
		if want := t0.Add(time.Duration(i+1) * 10 * time.Second).Unix(); p.T != want {
			t.Errorf("point %d at %d, want %d", i, p.T, want)
		}
	}
	if j.Rate == nil || *j.Rate != 10 || j.AckedRate == nil || *j.AckedRate != 10 {
		t.Errorf("current rate %v, acked %v; want 10 and 10", j.Rate, j.AckedRate)
	}
	if j.Lines != 1200 || j.Topic != "t-app" || j.Path != "/var/log/app" || j.State != status.Running {
		t.Errorf("job %+v: want 1200 lines, topic t-app, path /var/log/app, running", j)
	}
}

// An agent that restarts counts from zero: the drop is a reset, and the
// increase is the new count (as Prometheus's rate() has it), not negative.
func TestHistoryCounterReset(t *testing.T) {
	h := newTestHistory()
	counts := []int64{1000, 1100, 1200, 40, 140}
	for i, n := range counts {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		h.Observe(now, "a1", report(now, running("app", n)))
	}
	now := t0.Add(40 * time.Second)
	j := jobOf(t, h, now, "a1", "app")
	want := []float64{10, 10, 4, 10}
	if len(j.Points) != len(want) {
		t.Fatalf("points %+v, want rates %v", j.Points, want)
	}
	for i, p := range j.Points {
		if p.Rate != want[i] {
			t.Errorf("point %d: %v lines/s, want %v", i, p.Rate, want[i])
		}
	}
}

// No point spans a gap of over three steps (the agent was down), and the
// current rate is unknown once the last report is that old.
func TestHistoryGaps(t *testing.T) {
	h := newTestHistory()
	at := []time.Duration{0, 10 * time.Second, 20 * time.Second, 5 * time.Minute, 5*time.Minute + 10*time.Second}
	for i, d := range at {
		h.Observe(t0.Add(d), "a1", report(t0.Add(d), running("app", int64(100*i))))
	}
	now := t0.Add(5*time.Minute + 10*time.Second)
	j := jobOf(t, h, now, "a1", "app")
	if len(j.Points) != 3 {
		t.Fatalf("points %+v: want 3, none across the gap of 4m40s", j.Points)
	}
	if j.Points[2].Rate != 10 || j.Points[2].T != now.Unix() {
		t.Errorf("last point %+v, want 10 lines/s at %d", j.Points[2], now.Unix())
	}
	if j.Rate == nil || *j.Rate != 10 {
		t.Errorf("current rate %v, want 10", j.Rate)
	}
	later := jobOf(t, h, now.Add(31*time.Second), "a1", "app")
	if later.Rate != nil {
		t.Errorf("31 s after the last report, the current rate is %v, want null", *later.Rate)
	}
}

// Two hours of reports leave at most the last hour's samples, and each
// job's ring never grows.
func TestHistoryKeepsOneHour(t *testing.T) {
	h := newTestHistory()
	var now time.Time
	for i := 0; i <= 2*720; i++ { // every 5 s for two hours
		now = t0.Add(time.Duration(i) * 5 * time.Second)
		h.Observe(now, "a1", report(now, running("app", int64(i))))
	}
	j := jobOf(t, h, now, "a1", "app")
	if len(j.Points) < 350 || len(j.Points) > 361 {
		t.Errorf("%d points for one hour at one per 10 s, want about 360", len(j.Points))
	}
	if first := time.Unix(j.Points[0].T, 0); first.Before(now.Add(-time.Hour)) {
		t.Errorf("oldest point at %v, over an hour before %v", first, now)
	}
	ring := h.agents["a1"].jobs["app"].ring
	if len(ring) != 362 {
		t.Errorf("ring of %d samples, want 362 (an hour at 10 s, and two)", len(ring))
	}
}

// Beyond maxAgents and maxJobs, new agents and jobs are not tracked, and
// are counted as such; the tracked ones are unchanged.
func TestHistoryBounds(t *testing.T) {
	h := NewHistory(time.Hour, 10*time.Second, 2, 3)
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("a%d", i)
		h.Observe(t0, id, &status.Agent{ID: id, Updated: t0, Jobs: []status.Job{running("x", 1), running("y", 1)}})
	}
	o := h.Overview(t0, "")
	if len(o.Agents) != 2 || o.Agents[0].ID != "a0" || o.Agents[1].ID != "a1" {
		t.Fatalf("agents %+v, want a0 and a1 only", o.Agents)
	}
	jobs := len(o.Agents[0].Jobs) + len(o.Agents[1].Jobs)
	if jobs != 3 || o.Untracked.Agents != 2 || o.Untracked.Jobs != 1 {
		t.Errorf("%d jobs tracked, untracked %+v; want 3 jobs, 2 agents and 1 job untracked", jobs, o.Untracked)
	}
	if one := h.Overview(t0, "a1"); len(one.Agents) != 1 || one.Agents[0].ID != "a1" {
		t.Errorf("overview of a1: %+v", one.Agents)
	}
}

// An agent whose status key is gone is shown down, and forgotten an hour
// later (making room for another); a job the agent stops reporting goes an
// hour after its last report.
func TestHistoryExpiry(t *testing.T) {
	h := NewHistory(time.Hour, 10*time.Second, 1, 20)
	value := func(at time.Time, jobs ...status.Job) []byte {
		b, _ := json.Marshal(status.Agent{ID: "a1", Updated: at, Jobs: jobs})
		return b
	}
	h.Sync(t0, "/p/status/", map[string][]byte{"/p/status/a1": value(t0, running("app", 1), running("old", 1))})
	h.Sync(t0.Add(10*time.Minute), "/p/status/", map[string][]byte{"/p/status/a1": value(t0.Add(10*time.Minute), running("app", 2))})
	if got := len(h.Overview(t0.Add(59*time.Minute), "").Agents[0].Jobs); got != 2 {
		t.Errorf("59 min after its last report, %d jobs listed, want app and old", got)
	}
	if jobs := h.Overview(t0.Add(61*time.Minute), "").Agents[0].Jobs; len(jobs) != 1 || jobs[0].Name != "app" {
		t.Errorf("61 min after old's last report, jobs %+v, want app only", jobs)
	}

	gone := t0.Add(20 * time.Minute)
	h.Sync(gone, "/p/status/", map[string][]byte{})
	if a := h.Overview(gone, "").Agents; len(a) != 1 || a[0].Alive {
		t.Fatalf("agent whose key is gone: %+v, want listed, not alive", a)
	}
	h.Sync(gone.Add(time.Minute), "/p/status/", map[string][]byte{"/p/status/a2": value(gone.Add(time.Minute), running("x", 1))})
	if o := h.Overview(gone.Add(time.Minute), ""); len(o.Agents) != 1 || o.Agents[0].ID != "a1" || o.Untracked.Agents != 1 {
		t.Fatalf("with a1 gone for a minute and room for one agent: %+v, want a1 listed and a2 untracked", o)
	}
	later := gone.Add(time.Hour + time.Second)
	h.Sync(later, "/p/status/", map[string][]byte{"/p/status/a2": value(later, running("x", 1))})
	if o := h.Overview(later, ""); len(o.Agents) != 1 || o.Agents[0].ID != "a2" {
		t.Errorf("an hour after a1's key went: agents %+v, want a2 alone", o.Agents)
	}
}

// A value listed again unchanged (a list after a broken watch) adds no
// sample; a value that is no status is skipped.
func TestHistorySyncSkipsUnchanged(t *testing.T) {
	h := newTestHistory()
	b, _ := json.Marshal(report(t0, running("app", 100)))
	kv := map[string][]byte{"/p/status/a1": b, "/p/status/bad": []byte("{not json"), "/p/status/x/y": b}
	h.Sync(t0, "/p/status/", kv)
	h.Sync(t0.Add(20*time.Second), "/p/status/", kv)
	o := h.Overview(t0.Add(20*time.Second), "")
	if len(o.Agents) != 1 || o.Agents[0].ID != "a1" {
		t.Fatalf("agents %+v, want a1 alone", o.Agents)
	}
	j := o.Agents[0].Jobs[0]
	if !j.Seen.Equal(t0) || len(j.Points) != 0 {
		t.Errorf("job seen %v with points %+v: the same value listed again made a sample", j.Seen, j.Points)
	}
}

// Errors count the times a job went into a failing state or its error
// changed while failing, within the hour; the last error text stays an
// hour after it was last seen.
func TestHistoryErrors(t *testing.T) {
	h := newTestHistory()
	bad := func(state, msg string) status.Job {
		return status.Job{Name: "app", State: state, Error: msg}
	}
	steps := []status.Job{
		running("app", 1),
		bad(status.Error, "open /var/log/app: permission denied"),
		bad(status.Error, "open /var/log/app: permission denied"), // the same error still
		bad(status.Error, "read /var/log/app: input/output error"),
		running("app", 2),
		bad(status.Forbidden, "path /etc/shadow is outside agent.allow"),
		{Name: "app", State: status.Waiting},
	}
	for i, js := range steps {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		h.Observe(at, "a1", report(at, js))
	}
	now := t0.Add(30 * time.Second)
	j := jobOf(t, h, now, "a1", "app")
	if j.Errors != 3 || j.LastError != "path /etc/shadow is outside agent.allow" || !j.LastErrorAt.Equal(t0.Add(25*time.Second)) {
		t.Errorf("errors %d, last %q at %v; want 3, the forbidden path at 25 s", j.Errors, j.LastError, j.LastErrorAt.Sub(t0))
	}
	if j.State != status.Waiting {
		t.Errorf("state %q, want waiting", j.State)
	}
	// Keep the job reported, so that only the errors age.
	for at := now.Add(5 * time.Second); at.Before(t0.Add(time.Hour + 21*time.Second)); at = at.Add(5 * time.Second) {
		h.Observe(at, "a1", report(at, status.Job{Name: "app", State: status.Waiting}))
	}
	if j := jobOf(t, h, t0.Add(time.Hour+21*time.Second), "a1", "app"); j.Errors != 1 || j.LastError == "" {
		t.Errorf("an hour and 21 s on: %d errors, last %q; want 1 (the forbidden one, at 25 s) and its text", j.Errors, j.LastError)
	}
	if j := jobOf(t, h, t0.Add(time.Hour+26*time.Second), "a1", "app"); j.Errors != 0 || j.LastError != "" {
		t.Errorf("an hour and 26 s on: %d errors, last %q; want none", j.Errors, j.LastError)
	}
}

// Lag is the sum over the job's files; its age is how long the oldest
// unacknowledged line waited, by the agent's own clock.
func TestHistoryLag(t *testing.T) {
	h := newTestHistory()
	agentClock := t0.Add(-7 * time.Minute) // the agent's clock is 7 minutes behind
	js := running("app", 10)
	js.Files = []status.File{
		{Path: "/var/log/app.1", Lag: 300, OldestUnacked: agentClock.Add(-4 * time.Second)},
		{Path: "/var/log/app", Lag: 200, OldestUnacked: agentClock.Add(-9 * time.Second)},
		{Path: "/var/log/app.2"},
	}
	h.Observe(t0, "a1", report(agentClock, js))
	j := jobOf(t, h, t0, "a1", "app")
	if j.LagBytes != 500 || j.LagSeconds != 9 {
		t.Errorf("lag %d bytes, %v s; want 500 bytes, 9 s", j.LagBytes, j.LagSeconds)
	}
}
