package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"brun/base/testkit"
)

// A missing file or a bad value stops brun at start, non-zero, with a
// message naming the file or the section.key.
func TestBadConfigExitsWithTheKey(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("[etcd]\nendpoints = 127.0.0.1:2379\n[kafka]\nendpoints = 127.0.0.1:9092\n[es]\nendpoints = http://127.0.0.1:9200\nnums = many\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-c", filepath.Join(dir, "missing.ini")}, "missing.ini: no such file"},
		{[]string{"-c", bad}, `es.nums: "many" is not a positive integer`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, c := range cases {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 {
			t.Errorf("brun %v: err %v, want a non-zero exit", c.args, err)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("brun %v said %q, want it to contain %q", c.args, out, c.want)
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "brun ") {
		t.Errorf("brun version: %q, %v", out, err)
	}
}

// localConf writes an ini for brun in local mode (embedded etcd, no Kafka,
// local files) on free ports, with data.dir and log.dir under dir.
func localConf(t *testing.T, dir, logDir string) string {
	t.Helper()
	conf := filepath.Join(dir, "brun.ini")
	body := fmt.Sprintf(`
[brun]
roles = agent,transfer
data.dir = %s/data
metrics.listen = %s
[agent]
id = local-test
[etcd]
embed.listen = %s
[demo]
path =
[log]
dir = %s
level = info
`, dir, testkit.FreeAddr(t), testkit.FreeAddr(t), logDir)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// A second brun on a data.dir in use exits at once, non-zero, naming the
// directory and the pid of the brun that has it; the first runs on.
func TestSecondBrunOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	conf := localConf(t, dir, "")
	first := testkit.StartBrun(t, conf)
	first.WaitLog(60*time.Second, "agent local-test watching")

	// Another ini, other ports, the same data.dir.
	second := testkit.StartBrun(t, localConf(t, dir, ""))
	if code := second.Wait(30 * time.Second); code == 0 {
		t.Fatal("the second brun exited 0")
	}
	want := fmt.Sprintf("brun.data.dir %s/data is in use by another brun (pid %d)", dir, first.Pid())
	if !strings.Contains(second.Logs.String(), want) {
		t.Fatalf("the second brun said:\n%s\nwant %q", second.Logs.String(), want)
	}
	if !first.Alive() {
		t.Fatal("the first brun ended")
	}
	first.Stop(30 * time.Second)
}

// SIGHUP does not stop brun: it reopens brun's log file, says so there,
// and brun runs on and stops gracefully later.
func TestSIGHUPReopensTheLog(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	p := testkit.StartBrun(t, localConf(t, dir, logDir))
	link := filepath.Join(logDir, "brun.log")
	readLog := func() string {
		b, _ := os.ReadFile(link)
		return string(b)
	}
	testkit.WaitFor(t, 60*time.Second, "brun to run its agent", func() bool { return strings.Contains(readLog(), "agent local-test watching") })
	// The log is moved away, as an operator or a rotation tool does.
	old, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(old) {
		old = filepath.Join(logDir, old)
	}
	if err := os.Rename(old, old+".moved"); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 30*time.Second, "a new log file saying it was reopened", func() bool {
		return strings.Contains(readLog(), "SIGHUP: log file reopened")
	})
	if !p.Alive() {
		t.Fatal("brun ended on SIGHUP")
	}
	p.Stop(30 * time.Second)
	if !strings.Contains(readLog(), "brun stopped") {
		t.Errorf("no graceful stop in the reopened log:\n%s", readLog())
	}
}

// SIGHUP reads the ini again: a new log.level applies at once (and a
// JSON log shows it), a changed key that needs a restart is named, and a
// file that no longer loads changes nothing.
func TestSIGHUPReloadsTheLogLevel(t *testing.T) {
	dir := t.TempDir()
	conf := localConf(t, dir, "")
	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s does not hold %q", conf, from)
		}
		if err := os.WriteFile(conf, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("level = info", "level = info\nformat = json")
	p := testkit.StartBrun(t, conf)
	p.WaitLog(60*time.Second, "agent local-test watching")
	if !strings.Contains(p.Logs.String(), `"level":"info"`) {
		t.Fatalf("log.format = json, but the log is not JSON:\n%s", p.Logs.String())
	}

	edit("level = info", "level = debug")
	edit("id = local-test", "id = renamed")
	edit("[log]", "[es]\nbulk.actions = 10\n[log]")
	p.Signal(syscall.SIGHUP)
	p.WaitLog(30*time.Second, "SIGHUP: log.level is now debug (was info)")
	p.WaitLog(10*time.Second, "SIGHUP: agent.id changed in "+conf+"; it takes effect when brun is restarted")
	p.WaitLog(10*time.Second, "bulk limits are now es.bulk.actions 10,")
	if strings.Contains(p.Logs.String(), "es.bulk.actions changed in") {
		t.Error("es.bulk.actions was logged as waiting for a restart")
	}
	p.WaitLog(10*time.Second, `"level":"debug","msg":"SIGHUP: `+conf+` read again`) // written at debug level only

	edit("level = debug", "level = loud")
	p.Signal(syscall.SIGHUP)
	p.WaitLog(30*time.Second, `log.level: \"loud\" is not one of`)
	p.WaitLog(10*time.Second, "nothing changed, brun runs on as it started")
	if !p.Alive() {
		t.Fatal("brun ended on SIGHUP")
	}
	p.Stop(30 * time.Second)
}

// SIGHUP applies a new agent.allow without a restart: a job outside the
// old one starts, and a job outside the new one stops (forbidden).
func TestSIGHUPAppliesAgentAllow(t *testing.T) {
	dir := t.TempDir()
	conf := localConf(t, dir, "")
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "app.log"), []byte("a line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setAllow := func(glob string) {
		t.Helper()
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "allow = ") {
				lines = append(lines[:i], lines[i+1:]...)
				break
			}
		}
		out := strings.Replace(strings.Join(lines, "\n"), "id = local-test", "id = local-test\nallow = "+glob, 1)
		if err := os.WriteFile(conf, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setAllow(filepath.Join(dir, "a", "*"))
	p := testkit.StartBrun(t, conf)
	p.WaitLog(60*time.Second, "agent local-test watching")
	user := testkit.EmbeddedEtcdUser(t, filepath.Join(dir, "data", "etcd"))
	testkit.EtcdctlAs(t, embedListen(t, conf), user, "put", "/logagent/job/local-test/b", fmt.Sprintf(`{"path": %q, "topic": "b"}`, filepath.Join(dir, "b", "app.log")))
	bin := testkit.Binary(t)
	stateOfB := func() string {
		out, err := exec.Command(bin, "status", "-c", conf, "-o", "json").Output()
		if err != nil {
			return ""
		}
		var got struct {
			Agents []struct {
				Status *struct {
					Jobs []struct{ Name, State string }
				} `json:"status"`
			} `json:"agents"`
		}
		json.Unmarshal(out, &got)
		for _, a := range got.Agents {
			if a.Status != nil {
				for _, j := range a.Status.Jobs {
					if j.Name == "b" {
						return j.State
					}
				}
			}
		}
		return ""
	}
	testkit.WaitFor(t, 30*time.Second, "job b forbidden by agent.allow", func() bool { return stateOfB() == "forbidden" })

	setAllow(filepath.Join(dir, "b", "*"))
	p.Signal(syscall.SIGHUP)
	p.WaitLog(30*time.Second, "agent.allow is now")
	testkit.WaitFor(t, 30*time.Second, "job b running under the new agent.allow", func() bool { return stateOfB() == "running" })
	if strings.Contains(p.Logs.String(), "agent.allow changed in") {
		t.Error("agent.allow was logged as waiting for a restart")
	}

	setAllow(filepath.Join(dir, "a", "*"))
	p.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 30*time.Second, "job b forbidden again", func() bool { return stateOfB() == "forbidden" })
	p.Stop(30 * time.Second)
}

// brun status lists a running agent and its job, as a table and as JSON,
// read from the embedded etcd of the brun running with the same file.
func TestStatusListsARunningAgentAndItsJob(t *testing.T) {
	dir := t.TempDir()
	conf := localConf(t, dir, "")
	p := testkit.StartBrun(t, conf)
	p.WaitLog(60*time.Second, "agent local-test watching")
	app := filepath.Join(dir, "app.log")
	if err := os.WriteFile(app, []byte("one line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := testkit.EmbeddedEtcdUser(t, filepath.Join(dir, "data", "etcd"))
	testkit.EtcdctlAs(t, embedListen(t, conf), user, "put", "/logagent/job/local-test/app", fmt.Sprintf(`{"path": %q, "topic": "app"}`, app))

	bin := testkit.Binary(t)
	var table string
	testkit.WaitFor(t, 30*time.Second, "brun status to show the job running", func() bool {
		out, err := exec.Command(bin, "status", "-c", conf).CombinedOutput()
		if err != nil {
			t.Fatalf("brun status: %v\n%s", err, out)
		}
		table = string(out)
		return strings.Contains(table, "running")
	})
	for _, want := range []string{"AGENT", "local-test", "yes", "app", "running"} {
		if !strings.Contains(table, want) {
			t.Errorf("brun status does not show %q:\n%s", want, table)
		}
	}

	out, err := exec.Command(bin, "status", "-c", conf, "-o", "json").Output()
	if err != nil {
		t.Fatalf("brun status -o json: %v", err)
	}
	var got struct {
		Agents []struct {
			ID    string `json:"id"`
			Alive bool   `json:"alive"`
		} `json:"agents"`
		Jobs []struct {
			Name string `json:"name"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("brun status -o json is not JSON: %v\n%s", err, out)
	}
	if len(got.Agents) != 1 || got.Agents[0].ID != "local-test" || !got.Agents[0].Alive || len(got.Jobs) != 1 || got.Jobs[0].Name != "app" {
		t.Errorf("brun status -o json: %s", out)
	}

	// The same, for Prometheus: the file's series, the open files, the build.
	metricsURL := "http://" + iniValue(t, conf, "metrics.listen") + "/metrics"
	wantSeries := []string{
		fmt.Sprintf(`brun_agent_file_lag_bytes{job="app",path=%q} 0`, app),
		fmt.Sprintf(`brun_agent_file_oldest_unacked_seconds{job="app",path=%q} 0`, app),
		"brun_agent_open_files 1",
		`brun_build_info{commit=`,
		"process_resident_memory_bytes",
	}
	var page string
	testkit.WaitFor(t, 30*time.Second, "the file's series on /metrics", func() bool {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page = string(b)
		return strings.Contains(page, wantSeries[0])
	})
	for _, want := range wantSeries {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	p.Stop(30 * time.Second)
}

// embedListen reads etcd.embed.listen back from conf.
func embedListen(t *testing.T, conf string) string { return iniValue(t, conf, "embed.listen") }

// iniValue reads the value of key (as written, without its section) back
// from conf.
func iniValue(t *testing.T, conf, key string) string {
	t.Helper()
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+" = "); ok {
			return v
		}
	}
	t.Fatalf("no %s in %s", key, conf)
	return ""
}

// brun version names the git commit it was built from: by the Makefile's
// -ldflags, and in a plain `go build` by Go's own VCS stamp (which Go
// leaves out in a git worktree, whose .git is a file, or under
// GOFLAGS=-buildvcs=false).
func TestVersionNamesTheCommit(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	want := "commit: " + strings.TrimSpace(string(head))
	checked := false

	if _, err := exec.LookPath("make"); err == nil {
		bin := filepath.Join(t.TempDir(), "brun")
		if out, err := exec.Command("make", "-s", "-C", root, "build", "BIN="+bin).CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version").Output()
		if err != nil || !strings.HasPrefix(string(out), "brun ") || !strings.Contains(string(out), want+"\n") {
			t.Errorf("make build; brun version: %v\n%s\nwant %q", err, out, want)
		}
		checked = true
	}

	goflags, _ := exec.Command("go", "env", "GOFLAGS").Output()
	if fi, err := os.Stat(filepath.Join(root, ".git")); err == nil && fi.IsDir() && !strings.Contains(string(goflags), "buildvcs=false") {
		out, err := exec.Command(testkit.Binary(t), "version").Output()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("go build; brun version: %v\n%s\nwant %q", err, out, want)
		}
		checked = true
	} else {
		t.Log("a git worktree or -buildvcs=false: Go stamps no commit into a plain go build here")
	}
	if !checked {
		t.Skip("neither make nor a checkout Go stamps")
	}
}
