package scheduler

import (
	"sort"

	"github.com/sirupsen/logrus"

	"brun/servers/job"
)

// StartFunc starts a job and returns the function that stops it; the stop
// function blocks until the job has let go of its files.
type StartFunc func(name string, spec job.Spec) (stop func())

// Scheduler holds the table of running jobs. Its methods are called from
// one goroutine (the etcd mirror's), so it needs no lock.
type Scheduler struct {
	start   StartFunc
	running map[string]*entry
	invalid map[string]string // key → value last reported invalid, to log it once
	log     *logrus.Entry
}

type entry struct {
	spec job.Spec
	stop func()
}

// New returns an empty scheduler that starts jobs with start.
func New(start StartFunc, log *logrus.Entry) *Scheduler {
	return &Scheduler{start: start, running: map[string]*entry{}, invalid: map[string]string{}, log: log}
}

// Apply makes the running jobs match desired, a map of job name → raw job
// value (for the agent: the job keys with the agent's prefix removed).
func (s *Scheduler) Apply(desired map[string][]byte) {
	want := make(map[string]job.Spec, len(desired))
	for name, raw := range desired {
		spec, err := job.Parse(raw)
		if err != nil {
			if s.invalid[name] != string(raw) {
				s.log.WithField("job", name).Errorf("job %s: %v (value %q); it does not run until fixed", name, err, raw)
				s.invalid[name] = string(raw)
			}
			continue
		}
		delete(s.invalid, name)
		want[name] = spec
	}
	for name := range s.invalid {
		if _, ok := desired[name]; !ok {
			delete(s.invalid, name)
		}
	}
	for _, name := range sortedKeys(s.running) {
		e := s.running[name]
		if spec, ok := want[name]; ok && spec.Equal(e.spec) {
			continue
		}
		s.log.WithField("job", name).Infof("stopping job %s", name)
		e.stop()
		delete(s.running, name)
	}
	for _, name := range sortedKeys(want) {
		if _, ok := s.running[name]; ok {
			continue
		}
		spec := want[name]
		s.log.WithFields(logrus.Fields{"job": name, "path": spec.Path, "topic": spec.Topic}).Infof("starting job %s", name)
		s.running[name] = &entry{spec: spec, stop: s.start(name, spec)}
	}
}

// Running returns the specs of the running jobs by name.
func (s *Scheduler) Running() map[string]job.Spec {
	out := make(map[string]job.Spec, len(s.running))
	for n, e := range s.running {
		out[n] = e.spec
	}
	return out
}

// StopAll stops every job and waits for each.
func (s *Scheduler) StopAll() {
	for name, e := range s.running {
		e.stop()
		delete(s.running, name)
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
