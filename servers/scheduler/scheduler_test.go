package scheduler

import (
	"reflect"
	"sort"
	"testing"

	"github.com/sirupsen/logrus"

	"brun/servers/job"
)

type fakeRunner struct {
	events []string
}

func (f *fakeRunner) start(name string, spec job.Spec) func() {
	f.events = append(f.events, "start "+name+" "+spec.Path)
	return func() { f.events = append(f.events, "stop "+name) }
}

func TestApplyReconcilesByContent(t *testing.T) {
	f := &fakeRunner{}
	s := New(f.start, logrus.NewEntry(logrus.New()))
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
		{"b made invalid: it stops", map[string]string{
			"b": `{"path":"/b2.log","topic":"t","bogus":1}`,
			"d": `{"path":"/d.log","topic":"t"}`,
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
	f.events = nil
	s.StopAll()
	sort.Strings(f.events)
	if !reflect.DeepEqual(f.events, []string{"stop d"}) {
		t.Fatalf("StopAll: %q", f.events)
	}
}
