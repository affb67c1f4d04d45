package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/servers/filestore"
)

// eventDoc is a document as the agent and transfer make it.
func eventDoc(agent, path, msg string, seq int) []byte {
	return []byte(fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:%02d.000Z","message":%q,"agent":{"id":%q},"log":{"file":{"path":%q},"offset":%d},"event":{"id":"e-%d"}}`,
		seq%60, msg, agent, path, seq*100, seq))
}

// The documents the test writes, in order: the job's (agent a1, files
// under /var/log/app/) and others that must not show.
var eventFixtures = []struct {
	index, agent, path, msg string
	job                     bool
}{
	{"app-2026.11.25", "a1", "/var/log/app/x.log", "INFO started", true},
	{"app-2026.11.25", "a2", "/var/log/app/x.log", "INFO other agent", false},
	{"app-2026.11.25", "a1", "/var/log/app/y.log", "ERROR disk full on /data", true},
	{"app-2026.11.25", "a1", "/var/log/other.log", "ERROR other path", false},
	{"app-x-2026.11.25", "a1", "/var/log/app/x.log", "ERROR another topic's index", false},
	{"other-2026.11.25", "a1", "/var/log/app/x.log", "ERROR other topic", false},
	{"app-2026.11.25", "a1", "/var/log/app/x.log", "WARN Disk Full soon", true},
	{"app-2026.11.25", "a1", "/var/log/app/x.log", "INFO request handled", true},
}

type eventsBody struct {
	Source  string `json:"source"`
	Indices string `json:"indices"`
	Events  []struct {
		Message string `json:"message"`
	} `json:"events"`
}

// checkEvents asks for the job's events with q and compares the messages,
// newest first, with want.
func (w *apiWorld) checkEvents(query, source string, want ...string) {
	w.t.Helper()
	res, body := w.call("GET", "/api/agents/a1/jobs/app/events"+query, "")
	if res.StatusCode != 200 {
		w.t.Fatalf("events%s: %s %s", query, res.Status, body)
	}
	var ev eventsBody
	if err := json.Unmarshal(body, &ev); err != nil {
		w.t.Fatal(err)
	}
	var got []string
	for _, e := range ev.Events {
		got = append(got, e.Message)
	}
	if ev.Source != source || ev.Indices != "app-????.??.??" || strings.Join(got, " | ") != strings.Join(want, " | ") {
		w.t.Errorf("events%s: source %q indices %q\n  got  %q\n  want %q", query, ev.Source, ev.Indices, got, want)
	}
}

func (w *apiWorld) eventsErrors() {
	w.t.Helper()
	if res, body := w.call("GET", "/api/agents/a1/jobs/app/events?size=0", ""); res.StatusCode != 400 || !strings.Contains(string(body), `"size"`) {
		w.t.Errorf("size=0: %s %s", res.Status, body)
	}
	if res, _ := w.call("GET", "/api/agents/a1/jobs/nope/events", ""); res.StatusCode != 404 {
		w.t.Errorf("events of an unknown job: %s, want 404", res.Status)
	}
}

func TestJobEventsFromLocalFiles(t *testing.T) {
	dataDir := t.TempDir()
	w := newAPIWorldWith(t, func(c *config.Config) { c.Brun.DataDir, c.ES.Endpoints = dataDir, nil })
	w.put("job/a1/app", `{"path": "/var/log/app/*.log", "topic": "App"}`)

	cfg := config.Default()
	cfg.Brun.DataDir = dataDir
	store, err := filestore.Open(cfg.LocalESDir(), time.Hour, time.Now(), logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i, f := range eventFixtures {
		doc := filestore.Doc{Index: f.index, ID: fmt.Sprint(i), Source: eventDoc(f.agent, f.path, f.msg, i)}
		if _, err := store.Write([]filestore.Doc{doc}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	w.checkEvents("", "files", "INFO request handled", "WARN Disk Full soon", "ERROR disk full on /data", "INFO started")
	w.checkEvents("?q=disk+FULL", "files", "WARN Disk Full soon", "ERROR disk full on /data")
	w.checkEvents("?size=1", "files", "INFO request handled")
	w.eventsErrors()
}
