package console

import (
	"encoding/json"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	"brun/servers/status"
)

// History bounds, as the console runs it (NewHistory's defaults).
const (
	// historyWindow is how far back the history goes: samples older than
	// this are overwritten, and an agent unseen for this long is forgotten.
	historyWindow = time.Hour
	// historyStep is the least time between two kept samples of a job. An
	// agent writes its status every 5 s; one in two is kept.
	historyStep = 10 * time.Second
	// historyMaxAgents and historyMaxJobs bound what the history tracks:
	// agents, and jobs over all agents together. Beyond them new agents
	// and jobs are not tracked (counted in Overview.Untracked) until
	// others are forgotten. A job's ring is historyWindow/historyStep
	// samples of 40 bytes, about 15 KB: 2,000 jobs take about 30 MB.
	historyMaxAgents = 1000
	historyMaxJobs   = 2000
	// maxOnsets bounds the error onsets a job keeps: an hour of reports
	// every 5 s, each a new error, is 720.
	maxOnsets = 1000
	// maxUntracked bounds the names of untracked agents and jobs kept to
	// count them: the count stops there.
	maxUntracked = 10000
)

// failing are the job states that count as errors.
var failing = map[string]bool{status.Error: true, status.Invalid: true, status.Forbidden: true}

// History keeps, for the last hour, what the agents' statuses said: per
// agent and job a ring of samples (counters, lag), one per step at most,
// its latest state and error, and the times the job started failing. It is fed the whole set of
// status values (Sync) or one status (Observe) with the time they were
// seen, and answers Overview. It is safe for concurrent use; its memory is
// bounded by the ring size times maxJobs.
type History struct {
	window, step       time.Duration
	maxAgents, maxJobs int
	mu                 sync.Mutex
	agents             map[string]*agentHistory
	jobs               int // tracked jobs, over all agents
	untrackedAgents    map[string]bool
	untrackedJobs      map[string]bool // agent \n job
	untrackedSince     time.Time       // when untracked* were last reset
}

// NewHistory returns an empty history of window, keeping a sample per job
// every step at most, tracking at most maxAgents agents and maxJobs jobs.
func NewHistory(window, step time.Duration, maxAgents, maxJobs int) *History {
	return &History{window: window, step: step, maxAgents: maxAgents, maxJobs: maxJobs,
		agents: map[string]*agentHistory{}, untrackedAgents: map[string]bool{}, untrackedJobs: map[string]bool{}}
}

type agentHistory struct {
	hash    uint64    // of the status value last synced: an unchanged value is not parsed again
	updated time.Time // the status's own Updated, last observed
	seen    time.Time // when a status of the agent was last observed
	gone    time.Time // when its status key disappeared (its lease ended); zero while it exists
	jobs    map[string]*jobHistory
}

type jobHistory struct {
	topic, path string
	state       string   // in the latest report
	ring        []sample // oldest at next when full
	next        int
	full        bool
	last        sample    // the latest observation, kept or not
	lastErr     string    // the last error text seen, and when it was
	lastErrAt   time.Time // seen (zero: none in the history)
	lastFailing bool      // whether the latest observation was failing
	onsets      []time.Time
}

// sample is one observation of a job, 40 bytes: the ring of every job
// holds an hour of them.
type sample struct {
	ms            int64 // when it was seen: Unix milliseconds of the console's clock
	lines, acked  int64
	lag           int64   // bytes read from the files and not acknowledged
	oldestUnacked float32 // seconds the oldest unacknowledged line waits, by the agent's clock
}

// at is when s was seen.
func (s sample) at() time.Time { return time.UnixMilli(s.ms).UTC() }

// Sync takes the whole set of status values under prefix (etcd key →
// value), as etcdx.Mirror hands them, seen at now: each changed value is
// observed, agents whose key is gone are marked gone, and what is older
// than the window is forgotten. A value that is no status is skipped.
func (h *History) Sync(now time.Time, prefix string, kv map[string][]byte) {
	h.mu.Lock()
	h.expire(now) // once per sync: it walks every job
	h.mu.Unlock()
	present := make(map[string]bool, len(kv))
	for key, v := range kv {
		id := strings.TrimPrefix(key, prefix)
		if id == "" || strings.Contains(id, "/") {
			continue
		}
		present[id] = true
		sum := fnv.New64a()
		sum.Write(v)
		hash := sum.Sum64()
		h.mu.Lock()
		a := h.agents[id]
		same := a != nil && a.hash == hash && a.gone.IsZero()
		h.mu.Unlock()
		if same {
			continue
		}
		var st status.Agent
		if err := json.Unmarshal(v, &st); err != nil {
			continue
		}
		h.observe(now, id, &st, hash)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, a := range h.agents {
		if !present[id] && a.gone.IsZero() {
			a.gone = now
		}
	}
}

// Observe records one status of agent id seen at now.
func (h *History) Observe(now time.Time, id string, st *status.Agent) {
	h.mu.Lock()
	h.expire(now)
	h.mu.Unlock()
	h.observe(now, id, st, 0)
}

// observe records st; hash is that of its value (0: unknown).
func (h *History) observe(now time.Time, id string, st *status.Agent, hash uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.agents[id]
	if a == nil {
		if len(h.agents) >= h.maxAgents {
			if len(h.untrackedAgents) < maxUntracked {
				h.untrackedAgents[id] = true
			}
			return
		}
		a = &agentHistory{jobs: map[string]*jobHistory{}}
		h.agents[id] = a
	}
	a.hash, a.gone = hash, time.Time{}
	if !st.Updated.IsZero() && st.Updated.Equal(a.updated) {
		return // the same report again (a list after a broken watch)
	}
	a.updated, a.seen = st.Updated, now
	for i := range st.Jobs {
		js := &st.Jobs[i]
		j := a.jobs[js.Name]
		if j == nil {
			if h.jobs >= h.maxJobs {
				if len(h.untrackedJobs) < maxUntracked {
					h.untrackedJobs[id+"\n"+js.Name] = true
				}
				continue
			}
			j = &jobHistory{ring: make([]sample, int(h.window/h.step)+2)}
			a.jobs[js.Name] = j
			h.jobs++
		}
		j.add(now, st.Updated, js, h.step)
	}
}

// add records one observation; it is kept in the ring when step has passed
// since the last kept one.
func (j *jobHistory) add(now, updated time.Time, js *status.Job, step time.Duration) {
	s := sample{ms: now.UnixMilli(), lines: js.Lines, acked: js.Acked}
	var oldest time.Time
	for _, f := range js.Files {
		s.lag += f.Lag
		if !f.OldestUnacked.IsZero() && (oldest.IsZero() || f.OldestUnacked.Before(oldest)) {
			oldest = f.OldestUnacked
		}
	}
	if !oldest.IsZero() && updated.After(oldest) {
		s.oldestUnacked = float32(updated.Sub(oldest).Seconds())
	}
	j.topic, j.path, j.state = js.Topic, js.Path, js.State
	bad := failing[js.State]
	if bad {
		// An error starts when the job goes into a failing state, or when
		// its error changes while it fails.
		if !j.lastFailing || js.Error != j.lastErr {
			if len(j.onsets) >= maxOnsets { // an agent reporting far more often than every 5 s
				j.onsets = j.onsets[1:]
			}
			j.onsets = append(j.onsets, now)
		}
		j.lastErr, j.lastErrAt = js.Error, now
	}
	j.lastFailing = bad
	j.last = s
	if k, ok := j.newest(); !ok || now.Sub(k.at()) >= step {
		j.ring[j.next] = s
		j.next = (j.next + 1) % len(j.ring)
		j.full = j.full || j.next == 0
	}
}

// newest returns the last kept sample.
func (j *jobHistory) newest() (sample, bool) {
	if !j.full && j.next == 0 {
		return sample{}, false
	}
	return j.ring[(j.next+len(j.ring)-1)%len(j.ring)], true
}

// kept returns the kept samples from since on, oldest first.
func (j *jobHistory) kept(since time.Time) []sample {
	var out []sample
	n, start := j.next, 0
	if j.full {
		n, start = len(j.ring), j.next
	}
	for i := 0; i < n; i++ {
		s := j.ring[(start+i)%len(j.ring)]
		if !s.at().Before(since) {
			out = append(out, s)
		}
	}
	return out
}

// expire forgets agents whose status key is gone for over the window, the
// jobs an agent has not reported for the window (an agent whose key stays
// but who stopped writing keeps its entry, with no jobs), and error onsets older than the window.
// h.mu is held.
func (h *History) expire(now time.Time) {
	since := now.Add(-h.window)
	for id, a := range h.agents {
		if !a.gone.IsZero() && a.gone.Before(since) {
			h.jobs -= len(a.jobs)
			delete(h.agents, id)
			continue
		}
		for name, j := range a.jobs {
			if j.last.at().Before(since) {
				delete(a.jobs, name)
				h.jobs--
				continue
			}
			k := 0
			for k < len(j.onsets) && j.onsets[k].Before(since) {
				k++
			}
			j.onsets = j.onsets[k:]
		}
	}
	// Those left out are counted afresh each window: a name that went away
	// is no longer counted.
	if now.Sub(h.untrackedSince) >= h.window {
		clear(h.untrackedAgents)
		clear(h.untrackedJobs)
		h.untrackedSince = now
	}
}

// increase is how much a counter grew from a to b, as Prometheus's rate()
// counts it: a counter that went down was reset (the agent restarted and
// counts from zero), so all of b is the increase.
func increase(a, b int64) int64 {
	if b < a {
		return b
	}
	return b - a
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
