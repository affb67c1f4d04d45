package scheduler

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"brun/servers/job"
	"brun/servers/status"
)

type fakeRunner struct {
	events []string
}

type fakeHandle struct {
	f    *fakeRunner
	name string
}

func (h fakeHandle) Stop() { h.f.events = append(h.f.events, "stop "+h.name) }
func (h fakeHandle) Status() status.Job {
	return status.Job{Name: h.name, State: status.Running}
}

func (f *fakeRunner) start(name string, spec job.Spec) Handle {
	f.events = append(f.events, "start "+name+" "+spec.Path)
	return fakeHandle{f, name}
}

func TestApplyReconcilesByContent(t *testing.T) {
	f := &fakeRunner{}
	s := New(f.start, func(p string) bool { return !strings.HasPrefix(p, "/secret") }, logrus.NewEntry(logrus.New()))
	steps := []struct {
		name    string
		desired map[string]string
		want    []string
	}{
		{"first list", map[string]string{
			"a": `{"path":"/a.log","topic":"t"}`,
			"b": `{"path":"/b.log","topic":"t"}`,
		}, []string{"start a /a.log", "start b /b.log"}},
		{"same again: nothing", map[string]string{
			"a": `{"topic":"t","path":"/a.log"}`,
			"b": `{"path":"/b.log","topic":"t"}`,
		}, nil},
		{"b changed: only b restarts", map[string]string{
			"a": `{"path":"/a.log","topic":"t"}`,
			"b": `{"path":"/b2.log","topic":"t"}`,
		}, []string{"stop b", "start b /b2.log"}},
		{"a deleted, c invalid, d added", map[string]string{
			"b": `{"path":"/b2.log","topic":"t"}`,
			"c": `{"path":"relative.log","topic":"t"}`,
			"d": `{"path":"/d.log","topic":"t"}`,
		}, []string{"stop a", "start d /d.log"}},
		{"b made invalid: it stops; e forbidden; keys that are no job name", map[string]string{
			"b":   `{"path":"/b2.log","topic":"t","bogus":1}`,
			"d":   `{"path":"/d.log","topic":"t"}`,
			"e":   `{"path":"/secret/keys","topic":"t"}`,
			"":    `{"path":"/x.log","topic":"t"}`,
			"x/y": `{"path":"/y.log","topic":"t"}`,
			"..":  `{"path":"/z.log","topic":"t"}`,
		}, []string{"stop b"}},
	}
	for _, st := range steps {
		f.events = nil
		d := map[string][]byte{}
		for k, v := range st.desired {
			d[k] = []byte(v)
		}
		s.Apply(d)
		if !reflect.DeepEqual(f.events, st.want) {
			t.Fatalf("%s: events %q, want %q", st.name, f.events, st.want)
		}
	}
	states := map[string]string{}
	for _, j := range s.Status() {
		states[j.Name] = j.State
	}
	want := map[string]string{"b": status.Invalid, "d": status.Running, "e": status.Forbidden,
		"": status.Invalid, "x/y": status.Invalid, "..": status.Invalid}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("status %v, want %v", states, want)
	}
	f.events = nil
	s.StopAll()
	sort.Strings(f.events)
	if !reflect.DeepEqual(f.events, []string{"stop d"}) {
		t.Fatalf("StopAll: %q", f.events)
	}
}
