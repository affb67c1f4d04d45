package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"brun/base/testkit"
)

// A newcomer's first minute: on a fresh checkout, with no server running,
// `make run` starts brun with the shipped conf/brun.ini (embedded etcd,
// in-process hand-off, local files, the demo log). Only the ports are
// moved, so the test runs beside the servers of `make test`.
func TestMakeRunOnAFreshCheckout(t *testing.T) {
	if os.Getenv("BRUN_INTEGRATION") != "1" {
		t.Skip("integration test: run `make test` (it needs make, go and etcdctl)")
	}
	for _, tool := range []string{"make", "go", "etcdctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make stack-up installs etcdctl): %v", tool, err)
		}
	}
	dir := t.TempDir()
	checkout(t, dir)
	etcdAddr, consoleAddr, metricsAddr := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	editConf(t, filepath.Join(dir, "conf", "brun.ini"), map[string]string{
		"embed.listen = 127.0.0.1:2379":   "embed.listen = " + etcdAddr,
		"listen = 127.0.0.1:8080":         "listen = " + consoleAddr,
		"metrics.listen = 127.0.0.1:9108": "metrics.listen = " + metricsAddr,
	})
	api := consoleAPI{base: "http://" + consoleAddr, tokenFile: filepath.Join(dir, "data", "console.token")}

	run := startMakeRun(t, dir)
	// The first build may take minutes; brun itself then has one.
	run.waitOutput(t, 10*time.Minute, "console on http://"+consoleAddr)
	deadline := time.Now().Add(time.Minute)

	var agentID string
	var firstLines int
	testkit.WaitFor(t, time.Until(deadline), "one alive agent with a running demo job", func() bool {
		agents := getAgents(t, api)
		if len(agents) != 1 || !agents[0].Alive {
			return false
		}
		j := agents[0].job("demo")
		if j == nil || j.State != "running" || j.Lines == 0 {
			return false
		}
		agentID, firstLines = agents[0].ID, j.Lines
		return true
	})
	testkit.WaitFor(t, time.Until(deadline), "the demo job's lines counter to grow", func() bool {
		j := getAgents(t, api)[0].job("demo")
		return j != nil && j.Lines > firstLines
	})
	testkit.WaitFor(t, time.Until(deadline), "demo lines in the latest-events view", func() bool {
		ev := getEvents(t, api, agentID, "demo", "")
		return ev.Source == "files" && len(ev.Events) > 0 && strings.Contains(ev.Events[0].Message, "c.e.api.Handler")
	})
	// The demo writes an ERROR record with a "locked" stack trace about one
	// line in 30: wait for the filter to find one, then every event it
	// returns must hold both words.
	var filtered eventsAnswer
	testkit.WaitFor(t, time.Until(deadline)+time.Minute, `an event matching the filter "ERROR locked"`, func() bool {
		filtered = getEvents(t, api, agentID, "demo", "ERROR locked")
		return len(filtered.Events) > 0
	})
	for _, e := range filtered.Events {
		if !strings.Contains(e.Message, "ERROR") || !strings.Contains(e.Message, "locked") {
			t.Errorf("filter \"ERROR locked\" returned %q", e.Message)
		}
	}
	if all := getEvents(t, api, agentID, "demo", ""); len(all.Events) <= len(filtered.Events) {
		t.Errorf("the filter kept %d of %d events: it filters nothing", len(filtered.Events), len(all.Events))
	}

	// A second job, added with etcdctl against the embedded etcd, as its
	// root user (brun wrote the password to data/etcd/root.password), ships.
	second := filepath.Join(dir, "second.log")
	appendSeq(t, second, 0, 1000)
	spec := fmt.Sprintf(`{"path": %q, "topic": "second"}`, second)
	root := testkit.EmbeddedEtcdUser(t, filepath.Join(dir, "data", "etcd"))
	testkit.EtcdctlAs(t, etcdAddr, root, "put", "/logagent/job/"+agentID+"/second", spec)
	sink := filepath.Join(dir, "data", "es")
	testkit.WaitFor(t, time.Minute, "1000 lines of the second job in the local files", func() bool {
		return len(messages(t, sink, "second-")) == 1000
	})

	// Stop, note what was written, write more while brun is down, start
	// again: every record arrives, none twice.
	run.stop(t)
	demoRecords := records(t, filepath.Join(dir, "data", "demo", "app.log"))
	appendSeq(t, second, 1000, 500)

	run = startMakeRun(t, dir)
	run.waitOutput(t, 5*time.Minute, "console on http://"+consoleAddr)
	testkit.WaitFor(t, 2*time.Minute, "every line written before the restart in the local files", func() bool {
		got := set(messages(t, sink, "demo-"))
		for _, r := range demoRecords {
			if !got[r] {
				return false
			}
		}
		return len(messages(t, sink, "second-")) >= 1500
	})
	run.stop(t)

	for _, prefix := range []string{"demo-", "second-"} {
		seen := map[string]int{}
		for _, m := range messages(t, sink, prefix) {
			seen[m]++
		}
		for m, n := range seen {
			if n > 1 {
				t.Errorf("%s: %d copies of %q", prefix, n, m)
			}
		}
	}
	got := messages(t, sink, "second-")
	if len(got) != 1500 {
		t.Errorf("second job: %d documents, want 1500", len(got))
	}
	for i := 0; i < 1500; i++ {
		if !set(got)[seqLine(i)] {
			t.Fatalf("second job: %q is missing", seqLine(i))
		}
	}
}

// checkout copies the files git tracks in this repository (as they are
// in the working tree) to dir: what a fresh clone of this state holds.
// Without git (a source tarball) it copies the tree but for the build
// output and local state that .gitignore names.
func checkout(t *testing.T, dir string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	top := filepath.Dir(filepath.Dir(file))
	var names []string
	if list, err := exec.Command("git", "-C", top, "ls-files", "-z").Output(); err == nil {
		names = strings.Split(strings.TrimRight(string(list), "\x00"), "\x00")
	} else {
		filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(top, path)
			switch {
			case d.IsDir() && (rel == ".git" || rel == "bin" || rel == "data" || rel == "logs"):
				return filepath.SkipDir
			case !d.IsDir():
				names = append(names, rel)
			}
			return nil
		})
	}
	for _, name := range names {
		src, dst := filepath.Join(top, name), filepath.Join(dir, name)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// editConf replaces each key line of the shipped configuration, which
// must appear exactly once.
func editConf(t *testing.T, path string, lines map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for old, new := range lines {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(old) + `$`)
		if n := len(re.FindAllStringIndex(s, -1)); n != 1 {
			t.Fatalf("%s has %d lines %q, want 1", path, n, old)
		}
		s = re.ReplaceAllLiteralString(s, new)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

type makeRun struct {
	cmd  *exec.Cmd
	out  *testkit.SyncBuffer
	done chan error
}

// startMakeRun runs `make run` in dir, in its own process group so that a
// signal reaches make and brun alike, as Ctrl-C in a terminal does.
func startMakeRun(t *testing.T, dir string) *makeRun {
	t.Helper()
	r := &makeRun{cmd: exec.Command("make", "run"), out: testkit.NewSyncBuffer(), done: make(chan error, 1)}
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("make run in %s:\n%s", dir, r.out.String())
			if log, err := os.ReadFile(filepath.Join(dir, "logs", "brun.log")); err == nil {
				t.Logf("logs/brun.log:\n%s", log)
			}
		}
	})
	return r
}

func (r *makeRun) waitOutput(t *testing.T, timeout time.Duration, s string) {
	t.Helper()
	testkit.WaitFor(t, timeout, "make run to print "+s, func() bool {
		select {
		case err := <-r.done:
			t.Fatalf("make run ended (%v):\n%s", err, r.out.String())
		default:
		}
		return strings.Contains(r.out.String(), s)
	})
}

// stop sends SIGINT to make and brun, as Ctrl-C does, and waits.
func (r *makeRun) stop(t *testing.T) {
	t.Helper()
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("make run did not stop within a minute of SIGINT")
	}
}

type consoleAgent struct {
	ID     string `json:"id"`
	Alive  bool   `json:"alive"`
	Status *struct {
		Jobs []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			Lines int    `json:"lines"`
		} `json:"jobs"`
	} `json:"status"`
}

type jobState = struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Lines int    `json:"lines"`
}

func (a consoleAgent) job(name string) *jobState {
	if a.Status == nil {
		return nil
	}
	for i := range a.Status.Jobs {
		if a.Status.Jobs[i].Name == name {
			return (*jobState)(&a.Status.Jobs[i])
		}
	}
	return nil
}

// consoleAPI is the console of the brun under test. Its token, which brun
// generates into data.dir when console.token is empty, is read from
// tokenFile for each call (it exists once brun has started).
type consoleAPI struct {
	base, tokenFile string
}

// getJSON decodes the answer of GET path into out. It returns false when
// nothing listens yet (brun prints where the console is before it
// listens); any other failure fails t.
func (c consoleAPI) getJSON(t *testing.T, path string, out any) bool {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := os.ReadFile(c.tokenFile); err == nil {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return false
		}
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", path, res.Status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, data)
	}
	return true
}

func getAgents(t *testing.T, api consoleAPI) []consoleAgent {
	var agents []consoleAgent
	api.getJSON(t, "/api/agents", &agents)
	return agents
}

type eventsAnswer struct {
	Source string `json:"source"`
	Events []struct {
		Message string `json:"message"`
	} `json:"events"`
}

func getEvents(t *testing.T, api consoleAPI, agent, job, q string) eventsAnswer {
	var ev eventsAnswer
	api.getJSON(t, "/api/agents/"+agent+"/jobs/"+job+"/events?q="+url.QueryEscape(q), &ev)
	return ev
}

func seqLine(i int) string { return fmt.Sprintf("second line seq=%06d", i) }

func appendSeq(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for i := from; i < from+n; i++ {
		fmt.Fprintln(w, seqLine(i))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// records returns the first line of each record of a demo log (a record
// starts with its date; a stack trace continues it).
func records(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if len(l) > 4 && l[0] >= '0' && l[0] <= '9' && l[4] == '-' {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no demo record", path)
	}
	return out
}

// messages returns the first line of the message of every document in the
// local files of the indices starting with prefix.
func messages(t *testing.T, sink, prefix string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sink, "*", prefix+"*.ndjson"))
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if l == "" {
				continue
			}
			var d struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("%s: %v: %q", f, err, l)
			}
			first, _, _ := strings.Cut(d.Message, "\n")
			out = append(out, first)
		}
	}
	return out
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}
