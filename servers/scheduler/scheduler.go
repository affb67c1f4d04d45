package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"brun/servers/job"
	"brun/servers/status"
)

// Handle is a running job.
type Handle interface {
	// Stop ends the job and blocks until it has let go of its files.
	Stop()
	// Status reports the job's state and counters; safe at any time.
	Status() status.Job
}

// StartFunc starts a job.
type StartFunc func(name string, spec job.Spec) Handle

// AllowFunc reports whether the agent may read what a job's path names.
type AllowFunc func(path string) bool

// Scheduler holds the table of running jobs. Apply and StopAll are called
// from one goroutine (the etcd mirror's); Status may be called from any.
type Scheduler struct {
	start StartFunc
	allow AllowFunc
	log   *logrus.Entry

	mu      sync.Mutex
	running map[string]*entry
	refused map[string]refusal // jobs that don't run: invalid or forbidden
}

type entry struct {
	spec job.Spec
	h    Handle
}

type refusal struct {
	raw   string
	state string // status.Invalid or status.Forbidden
	err   string
}

// New returns an empty scheduler that starts jobs with start. allow may be
// nil (every path allowed).
func New(start StartFunc, allow AllowFunc, log *logrus.Entry) *Scheduler {
	if allow == nil {
		allow = func(string) bool { return true }
	}
	return &Scheduler{start: start, allow: allow, running: map[string]*entry{}, refused: map[string]refusal{}, log: log}
}

// Apply makes the running jobs match desired, a map of job name → raw job
// value (for the agent: the job keys with the agent's prefix removed).
//
// A malformed job, or a key whose name is not a job name (empty, with a
// '/', see job.ValidName), is logged once with its name, reason and value,
// and reported as status "invalid"; a job whose path agent.allow doesn't cover
// is reported "forbidden". Neither runs; every other job is unaffected.
func (s *Scheduler) Apply(desired map[string][]byte) {
	want := make(map[string]job.Spec, len(desired))
	refused := map[string]refusal{}
	for name, raw := range desired {
		r := refusal{raw: string(raw)}
		var spec job.Spec
		var err error
		if msg := job.NameError(name); msg != "" {
			err = errors.New(msg)
		} else {
			spec, err = job.Parse(raw)
		}
		switch {
		case err != nil:
			r.state, r.err = status.Invalid, err.Error()
		case !s.allow(spec.Path):
			r.state, r.err = status.Forbidden, fmt.Sprintf("path %s is outside agent.allow", spec.Path)
		default:
			want[name] = spec
			continue
		}
		if prev, ok := s.refused[name]; !ok || prev.raw != r.raw {
			s.log.WithField("job", name).Errorf("job %s is %s: %s (value %q); it does not run until fixed", name, r.state, r.err, clip(raw))
		}
		refused[name] = r
	}
	s.mu.Lock()
	s.refused = refused
	s.mu.Unlock()

	for _, name := range sortedKeys(s.running) {
		e := s.running[name]
		if spec, ok := want[name]; ok && spec.Equal(e.spec) {
			continue
		}
		s.log.WithField("job", name).Infof("stopping job %s", name)
		e.h.Stop()
		s.mu.Lock()
		delete(s.running, name)
		s.mu.Unlock()
	}
	for _, name := range sortedKeys(want) {
		if _, ok := s.running[name]; ok {
			continue
		}
		spec := want[name]
		s.log.WithFields(logrus.Fields{"job": name, "path": spec.Path, "topic": spec.Topic}).Infof("starting job %s", name)
		h := s.start(name, spec)
		s.mu.Lock()
		s.running[name] = &entry{spec: spec, h: h}
		s.mu.Unlock()
	}
}

// Status reports every job the scheduler knows: running ones from their
// handles, refused ones with their reason. Sorted by name.
func (s *Scheduler) Status() []status.Job {
	s.mu.Lock()
	handles := make(map[string]Handle, len(s.running))
	for n, e := range s.running {
		handles[n] = e.h
	}
	out := make([]status.Job, 0, len(s.running)+len(s.refused))
	for n, r := range s.refused {
		out = append(out, status.Job{Name: n, State: r.state, Error: r.err})
	}
	s.mu.Unlock()
	for _, h := range handles {
		out = append(out, h.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StopAll stops every job and waits for each.
func (s *Scheduler) StopAll() {
	for _, name := range sortedKeys(s.running) {
		s.running[name].h.Stop()
		s.mu.Lock()
		delete(s.running, name)
		s.mu.Unlock()
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clipBytes bounds how much of a refused value is logged: a value may be
// up to etcd's request limit, and a log line should stay a line.
const clipBytes = 512

func clip(raw []byte) string {
	if len(raw) <= clipBytes {
		return string(raw)
	}
	return fmt.Sprintf("%s… (%d bytes)", raw[:clipBytes], len(raw))
}
