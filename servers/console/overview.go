package console

import (
	"context"
	"net/http"
	"time"

	"brun/base/etcdx"
)

// Overview is the answer of GET /api/overview: per agent and job, what the
// history holds of the last hour.
type Overview struct {
	// Now is the console's time the answer was made at; the series end
	// there.
	Now time.Time `json:"now"`
	// WindowSeconds is how far back the series go; StepSeconds the least
	// time between two of their points.
	WindowSeconds float64 `json:"window_seconds"`
	StepSeconds   float64 `json:"step_seconds"`
	// Agents are sorted by id.
	Agents []AgentOverview `json:"agents"`
	// Untracked counts the agents and jobs seen this hour that the history
	// does not track, being full (historyMaxAgents, historyMaxJobs).
	Untracked Untracked `json:"untracked"`
}

// Untracked counts what the history left out.
type Untracked struct {
	Agents int `json:"agents"`
	Jobs   int `json:"jobs"`
}

// AgentOverview is one agent: whether its status key exists (it is bound
// to the agent's lease), when it last wrote its status, and its jobs.
type AgentOverview struct {
	ID    string `json:"id"`
	Alive bool   `json:"alive"`
	// Updated is the Updated of the agent's last status (the agent's clock).
	Updated time.Time `json:"updated,omitzero"`
	// Jobs are sorted by name; a job the agent no longer reports stays
	// until its last report is over the window old.
	Jobs []JobOverview `json:"jobs"`
}

// JobOverview is one job over the window.
type JobOverview struct {
	Name  string `json:"name"`
	Topic string `json:"topic"`
	Path  string `json:"path"`
	// State is the job's state in its last report.
	State string `json:"state"`
	// Points are lines/s between successive samples, oldest first; none is
	// made across a gap of over three steps (the agent did not report).
	Points []Point `json:"points"`
	// Rate and AckedRate are the lines read and acknowledged per second
	// between the last two reports; null when the last is over three
	// steps old, or there is only one.
	Rate      *float64 `json:"rate"`
	AckedRate *float64 `json:"acked_rate"`
	// Lines is the agent's counter of lines read, in its last report.
	Lines int64 `json:"lines"`
	// LagBytes is what the job's files hold that is not acknowledged;
	// LagSeconds how long the oldest line read and not acknowledged has
	// waited (0: none waits).
	LagBytes   int64   `json:"lag_bytes"`
	LagSeconds float64 `json:"lag_seconds"`
	// Errors counts the times within the window the job went into a
	// failing state (error, invalid, forbidden) or its error changed while
	// it failed; LastError is the last error text seen within the window.
	Errors      int       `json:"errors"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Seen is when the console last saw a report of the job.
	Seen time.Time `json:"seen"`
}

// Point is the rate of lines over the span that ends at T (Unix seconds).
type Point struct {
	T    int64   `json:"t"`
	Rate float64 `json:"rate"`
}

// Overview returns what the history holds at now, for the agent id, or for
// every agent when id is "".
func (h *History) Overview(now time.Time, id string) Overview {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expire(now)
	out := Overview{Now: now, WindowSeconds: h.window.Seconds(), StepSeconds: h.step.Seconds(), Agents: []AgentOverview{},
		Untracked: Untracked{Agents: len(h.untrackedAgents), Jobs: len(h.untrackedJobs)}}
	since, maxGap := now.Add(-h.window), 3*h.step
	for _, aid := range sortedKeys(h.agents) {
		if id != "" && aid != id {
			continue
		}
		a := h.agents[aid]
		ao := AgentOverview{ID: aid, Alive: a.gone.IsZero(), Updated: a.updated, Jobs: []JobOverview{}}
		for _, name := range sortedKeys(a.jobs) {
			ao.Jobs = append(ao.Jobs, a.jobs[name].overview(name, now, since, maxGap))
		}
		out.Agents = append(out.Agents, ao)
	}
	return out
}

// overview summarizes one job's samples from since to now.
func (j *jobHistory) overview(name string, now, since time.Time, maxGap time.Duration) JobOverview {
	o := JobOverview{Name: name, Topic: j.topic, Path: j.path, State: j.state, Points: []Point{},
		Lines: j.last.lines, LagBytes: j.last.lag, LagSeconds: float64(j.last.oldestUnacked), Errors: len(j.onsets), Seen: j.last.at()}
	if !j.lastErrAt.Before(since) {
		o.LastError, o.LastErrorAt = j.lastErr, j.lastErrAt
	}
	samples := j.kept(since)
	if k, ok := j.newest(); ok && j.last.ms > k.ms && !j.last.at().Before(since) {
		samples = append(samples, j.last) // the curve reaches the latest report
	}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		dt := b.at().Sub(a.at())
		if dt <= 0 || dt > maxGap {
			continue
		}
		o.Points = append(o.Points, Point{T: b.at().Unix(), Rate: float64(increase(a.lines, b.lines)) / dt.Seconds()})
	}
	if n := len(samples); n >= 2 {
		a, b := samples[n-2], samples[n-1]
		dt := b.at().Sub(a.at())
		if dt > 0 && dt <= maxGap && now.Sub(b.at()) <= maxGap {
			lines := float64(increase(a.lines, b.lines)) / dt.Seconds()
			acked := float64(increase(a.acked, b.acked)) / dt.Seconds()
			o.Rate, o.AckedRate = &lines, &acked
		}
	}
	return o
}

// overview answers GET /api/overview[?agent=<id>]: the history's overview
// at the console's clock. It reads no etcd: watchStatus keeps the history.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("agent")
	if id != "" {
		if err := checkSegment("agent", id); err != nil {
			writeJSON(w, http.StatusBadRequest, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.history.Overview(s.now(), id))
}

// watchStatus keeps the history current until ctx ends: it mirrors every
// <prefix>status/ key (list, then watch from the next revision; list again
// when the watch is compacted or breaks) and syncs the history with each
// change, at the console's clock.
func (s *Server) watchStatus(ctx context.Context) {
	prefix := s.keys.Prefix + "status/"
	etcdx.Mirror(ctx, s.cli, prefix, s.cfg.Etcd.DialTimeout, s.log, func(kv map[string][]byte) {
		s.history.Sync(s.now(), prefix, kv)
	})
}
