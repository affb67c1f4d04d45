package collector

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"brun/servers/handoff"
	"brun/servers/job"
	"brun/servers/status"
)

// rig runs a collector whose sink is the in-process hand-off queue, and a
// consumer that acks every event it takes (unless held): the agent's
// whole data path, from files to acknowledgements, with no server.
type rig struct {
	t    *testing.T
	c    *Collector
	q    *handoff.Queue
	dir  string
	hold sync.Mutex // held: the consumer takes nothing, so readers fall behind

	mu     sync.Mutex
	events []shipped
}

// shipped is one event the consumer took.
type shipped struct {
	Topic   string
	Message string `json:"message"`
	Log     struct {
		File struct {
			Path string `json:"path"`
		} `json:"file"`
		Offset int64 `json:"offset"`
	} `json:"log"`
	Event struct {
		ID string `json:"id"`
	} `json:"event"`
}

func newRig(t *testing.T, allow ...string) *rig {
	t.Helper()
	r := &rig{t: t, q: handoff.New(16), dir: t.TempDir()}
	c, err := New(Config{AgentID: "agent-1", DataDir: t.TempDir(), ChanMsgSize: 16, Allow: allow, Handoff: r.q})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); c.Run(ctx) }()
	go func() {
		for m := range r.q.Messages() {
			r.hold.Lock()
			r.hold.Unlock()
			topic, value := m.Event()
			var e shipped
			if err := json.Unmarshal(value, &e); err != nil {
				t.Errorf("event %s is not JSON: %v", value, err)
			}
			e.Topic = topic
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
			r.q.Ack(m)
		}
	}()
	t.Cleanup(func() { cancel(); <-ran })
	return r
}

// start runs a job; it is stopped when the test ends.
func (r *rig) start(name, value string) *Job { return startJob(r.t, r.c, name, value) }

// startJob parses value and runs it on c as job name; it is stopped when
// the test ends.
func startJob(t *testing.T, c *Collector, name, value string) *Job {
	t.Helper()
	spec, err := job.Parse([]byte(value))
	if err != nil {
		t.Fatal(err)
	}
	j := c.Start(name, spec)
	t.Cleanup(j.Stop)
	return j
}

// shippedFor returns the events taken so far whose message holds s.
func (r *rig) shippedFor(s string) []shipped {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []shipped
	for _, e := range r.events {
		if strings.Contains(e.Message, s) {
			out = append(out, e)
		}
	}
	return out
}

// waitShipped waits until an event holding s was taken.
func (r *rig) waitShipped(s string, timeout time.Duration) {
	r.t.Helper()
	waitFor(r.t, timeout, "an event holding "+s, func() bool { return len(r.shippedFor(s)) > 0 })
}

// waitState waits until the job reports state, and returns its status.
func waitState(t *testing.T, j *Job, state string, timeout time.Duration) status.Job {
	t.Helper()
	var st status.Job
	waitFor(t, timeout, "job state "+state, func() bool {
		st = j.Status()
		return st.State == state
	})
	return st
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// stopsWithin stops j and fails t unless every reader of the job has
// ended within d (Stop itself gives up waiting after stopWait).
func stopsWithin(t *testing.T, j *Job, d time.Duration) {
	t.Helper()
	j.cancel()
	select {
	case <-j.done:
	case <-time.After(d):
		t.Fatalf("the job's readers did not end within %v of Stop", d)
	}
}
