package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"brun/base/testkit"
)

// world is one test's private slice of the shared servers: its own etcd
// prefix, agent id and topic, and a temp dir for files and data.
type world struct {
	t       *testing.T
	dir     string
	prefix  string
	agentID string
	topic   string
}

func newWorld(t *testing.T) *world {
	testkit.Integration(t)
	run := testkit.Unique("agent")
	return &world{t: t, dir: t.TempDir(), prefix: "/" + run + "/", agentID: "a-" + run, topic: run}
}

// conf writes an ini running only the agent, with extra lines appended.
func (w *world) conf(extra string) string {
	p := filepath.Join(w.dir, "brun.ini")
	body := fmt.Sprintf(`
[brun]
roles = agent
data.dir = %s/data
[agent]
id = %s
[etcd]
endpoints = %s
prefix = %s
[kafka]
endpoints = %s
chanMsgSize = 10000
[log]
dir =
level = info
%s`, w.dir, w.agentID, testkit.EtcdAddr, w.prefix, testkit.KafkaAddr, extra)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) putJob(name, value string) {
	testkit.Etcdctl(w.t, "put", w.prefix+"job/"+w.agentID+"/"+name, value)
}

// jobStatus is one job in the agent's status key.
type jobStatus struct {
	Name, State, Error, Topic string
	Lines, Acked              int64
}

// waitStatus waits until the agent's status key holds a job for which
// cond is true.
func (w *world) waitStatus(timeout time.Duration, what string, cond func(jobStatus) bool) jobStatus {
	w.t.Helper()
	var found jobStatus
	testkit.WaitFor(w.t, timeout, what, func() bool {
		out := testkit.Etcdctl(w.t, "get", "--print-value-only", w.prefix+"status/"+w.agentID)
		var st struct{ Jobs []jobStatus }
		if json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		for _, j := range st.Jobs {
			if cond(j) {
				found = j
				return true
			}
		}
		return false
	})
	return found
}

func (w *world) delJob(name string) {
	testkit.Etcdctl(w.t, "del", w.prefix+"job/"+w.agentID+"/"+name)
}

func (w *world) job(path, topic string) string {
	return fmt.Sprintf(`{"path": %q, "topic": %q}`, path, topic)
}

// writer appends numbered lines to a file, opening it for each batch as a
// logging library with reopen-on-rotate does.
type writer struct {
	path string
	next int
	// hold, when set, is held by each batch of writeOver; pause takes it
	// so that no batch is written meanwhile.
	hold *sync.Mutex
}

func (wr *writer) pause() {
	if wr.hold != nil {
		wr.hold.Lock()
	}
}

func (wr *writer) resume() {
	if wr.hold != nil {
		wr.hold.Unlock()
	}
}

func seqLine(i int) string {
	return fmt.Sprintf("2026-11-25T04:05:06.789Z INFO request handled path=/api/v1/items status=200 bytes=5120 seq=%07d", i)
}

// write appends n lines.
func (wr *writer) write(t testing.TB, n int) {
	f, err := os.OpenFile(wr.path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	b := bufio.NewWriterSize(f, 64<<10)
	for i := 0; i < n; i++ {
		b.WriteString(seqLine(wr.next))
		b.WriteByte('\n')
		wr.next++
	}
	if err := b.Flush(); err != nil {
		t.Error(err)
	}
	f.Close()
}

// writeOver appends total lines in batches, spread over about d.
func (wr *writer) writeOver(t testing.TB, total int, d time.Duration) {
	const batches = 100
	for i := 0; i < batches; i++ {
		wr.pause()
		wr.write(t, total/batches)
		wr.resume()
		time.Sleep(d / batches)
	}
}

var seqRE = regexp.MustCompile(`seq=(\d{7})`)

// checkAll fails t unless every seq in [0,n) is among the events, and
// reports duplicates.
func checkAll(t *testing.T, events []testkit.Event, n int) (dups int) {
	t.Helper()
	seen := make([]int, n)
	for _, e := range events {
		m := seqRE.FindStringSubmatch(e.Message)
		if m == nil {
			t.Fatalf("event without seq: %q", e.Message)
		}
		i, _ := strconv.Atoi(m[1])
		if i >= n {
			t.Fatalf("seq %d beyond the %d written", i, n)
		}
		seen[i]++
	}
	var missing []int
	for i, c := range seen {
		if c == 0 {
			missing = append(missing, i)
		}
		if c > 1 {
			dups += c - 1
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d lines missing from kafka (first: %v)", len(missing), n, missing[:min(10, len(missing))])
	}
	return dups
}

// stack runs .ci/stack.sh with args.
func stack(t *testing.T, args ...string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", ".ci", "stack.sh")
	out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("stack.sh %v: %v\n%s", args, err, out)
	}
}

// pauseKafka freezes the broker (SIGSTOP) until the returned function is
// called: to the agent, Kafka stops answering.
func pauseKafka(t *testing.T) (resume func()) {
	t.Helper()
	cache := os.Getenv("BRUN_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "brun")
	}
	data, err := os.ReadFile(filepath.Join(cache, "run", "kafka.pid"))
	if err != nil {
		t.Fatalf("kafka pid file: %v", err)
	}
	pid, err := strconv.Atoi(string(trimSpace(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The pid file names the launcher; signal its whole process group.
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(-pgid, syscall.SIGSTOP)
	var once sync.Once
	resume = func() { once.Do(func() { syscall.Kill(-pgid, syscall.SIGCONT) }) }
	t.Cleanup(resume)
	return resume
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func sortStrings(s []string) { sort.Strings(s) }

func sortedMessages(events []testkit.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Message
	}
	sort.Strings(out)
	return out
}
