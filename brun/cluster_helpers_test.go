package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/testkit"
)

// clusterPipeline is brun on the cluster of `make cluster-up`: agents,
// each a brun process with roles=agent and an id of its own tailing a file
// of its own, and transfers, brun processes with roles=transfer in one
// consumer group, all under a prefix, topic and group unique to the test.
//
// Each agent runs on a host of its own (testkit.NetHost: a network
// namespace with its own address, which is its agent id, and the
// cluster's ports forwarded into it), so a host can be cut off the
// network. Where namespaces can't be made (not root), the agents run on
// 127.0.0.1 and are told apart by [agent] id; the cut-off scenarios skip.
// A console of its own (roles=console) shows the agents.
type clusterPipeline struct {
	t         *testing.T
	c         testkit.Cluster
	dir       string
	prefix    string
	topic     string
	group     string
	agents    []*clusterAgent
	transfers []*testkit.Proc
	tconfs    []string // each transfer's ini, to start it again
	console   consoleAPI

	mu      sync.Mutex
	streams []*lineStream // every file the test writes, in order of creation
}

type clusterAgent struct {
	id   string
	host *testkit.NetHost // nil: the agent runs on 127.0.0.1
	conf string
	proc *testkit.Proc
	main *lineStream // the file of its job "app"
}

// lineStream is a file of numbered lines: "… stream=NAME seq=N", N from 0.
type lineStream struct {
	name    string
	path    string
	written int // lines appended so far; guarded by clusterPipeline.mu
}

func streamLine(name string, seq int) string {
	return fmt.Sprintf("cluster fault test line stream=%s seq=%07d", name, seq)
}

var streamSeq = regexp.MustCompile(`stream=(\S+) seq=(\d+)$`)

// startClusterPipeline puts one job per agent in etcd, then starts the
// transfers, the console and the agents, and returns once every agent
// reads its file. Agent i runs on host 10+i when namespaces can be made.
func startClusterPipeline(t *testing.T, c testkit.Cluster, agents, transfers int) *clusterPipeline {
	t.Helper()
	run := testkit.Unique("cluster")
	p := &clusterPipeline{t: t, c: c, dir: t.TempDir(), prefix: "/" + run + "/", topic: run, group: run}
	onHosts := testkit.NetnsAvailable() == ""
	for i := 1; i <= agents; i++ {
		a := &clusterAgent{id: fmt.Sprintf("agent%d-%s", i, run)}
		confID := a.id
		if onHosts {
			a.host = testkit.NewNetHost(t, 10+i)
			a.host.Forward(t, c.Ports()...)
			a.id, confID = a.host.IP, "" // the agent finds its id itself
		}
		a.conf = p.conf(fmt.Sprintf("agent%d", i), "agent", confID, "")
		a.main = p.newStream(fmt.Sprintf("a%d", i))
		p.putJob(a.id, "app", a.main.path, 10*time.Second)
		p.agents = append(p.agents, a)
	}
	for i := 1; i <= transfers; i++ {
		conf := p.conf(fmt.Sprintf("transfer%d", i), "transfer", "", "")
		p.tconfs = append(p.tconfs, conf)
		p.transfers = append(p.transfers, testkit.StartBrun(t, conf))
	}
	consoleAddr := testkit.FreeAddr(t)
	testkit.StartBrun(t, p.conf("console", "console", "", consoleAddr))
	p.console = consoleAPI{base: "http://" + consoleAddr, tokenFile: filepath.Join(p.dir, "console", "data", "console.token")}
	for _, a := range p.agents {
		p.startAgent(a)
	}
	for _, a := range p.agents {
		a.proc.WaitLog(60*time.Second, "reading "+a.main.path)
	}
	return p
}

// startAgent starts a's brun, on its host when it has one.
func (p *clusterPipeline) startAgent(a *clusterAgent) {
	if a.host != nil {
		a.proc = testkit.StartBrunOn(p.t, a.host, a.conf)
	} else {
		a.proc = testkit.StartBrun(p.t, a.conf)
	}
}

// conf writes the ini of one process, in a directory of its own (its
// data.dir). es.retention is off, as in pipelineConf; /metrics is served
// on a port the system picks, so the processes do not compete for one;
// agents may read the test's *.log files and nothing else; a transfer
// that stops is given up by the group after 10 s, not Kafka's 45. An empty
// agentID leaves the agent to take its host's address; consoleAddr is
// where a console listens.
func (p *clusterPipeline) conf(name, roles, agentID, consoleAddr string) string {
	p.t.Helper()
	dir := filepath.Join(p.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	conf := filepath.Join(dir, "brun.ini")
	consoleSection := ""
	if consoleAddr != "" {
		consoleSection = "[console]\nlisten = " + consoleAddr
	}
	writeFile(p.t, conf, fmt.Sprintf(`
[brun]
roles = %s
data.dir = %s/data
metrics.listen = 127.0.0.1:0
[agent]
id = %s
allow = %s/*.log
[etcd]
endpoints = %s
prefix = %s
[kafka]
endpoints = %s
[es]
endpoints = %s
replicas = 0
retention =
[transfer]
group = %s
session.timeout = 10s
%s
[demo]
path =
[log]
dir =
level = info
`, roles, dir, agentID, p.dir, p.c.Etcd, p.prefix, p.c.Kafka, p.c.ES, p.group, consoleSection))
	return conf
}

// newStream creates an empty file for a stream of numbered lines.
func (p *clusterPipeline) newStream(name string) *lineStream {
	p.t.Helper()
	s := &lineStream{name: name, path: filepath.Join(p.dir, name+".log")}
	writeFile(p.t, s.path, "")
	p.mu.Lock()
	p.streams = append(p.streams, s)
	p.mu.Unlock()
	return s
}

// putJob puts a job for agentID reading path into the test's topic,
// trying again for up to timeout while etcd refuses (during an election).
func (p *clusterPipeline) putJob(agentID, name, path string, timeout time.Duration) {
	p.t.Helper()
	key := p.prefix + "job/" + agentID + "/" + name
	val := fmt.Sprintf(`{"path": %q, "topic": %q}`, path, p.topic)
	deadline := time.Now().Add(timeout)
	for {
		cmd := exec.Command("etcdctl", "--endpoints="+p.c.Etcd, "--command-timeout=3s", "put", key, val)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("etcdctl put %s: %v\n%s", key, err, out)
		}
		p.t.Logf("etcdctl put %s: %v (%s); trying again", key, err, strings.TrimSpace(string(out)))
		time.Sleep(500 * time.Millisecond)
	}
}

// appendTo appends n numbered lines to s.
func (p *clusterPipeline) appendTo(s *lineStream, n int) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := s.written; i < s.written+n; i++ {
		w.WriteString(streamLine(s.name, i) + "\n")
	}
	if err := w.Flush(); err != nil {
		p.t.Fatal(err)
	}
	f.Close()
	s.written += n
}

// written is the number of lines appended to every stream so far.
func (p *clusterPipeline) written() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.streams {
		n += s.written
	}
	return n
}

// writeInBackground appends perTick lines to every agent's file every
// 100 ms until the returned stop is called; stop returns once the last
// lines are written. The short pause only spreads the lines over the
// fault: nothing waits on it.
func (p *clusterPipeline) writeInBackground(perTick int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, a := range p.agents {
				p.appendTo(a.main, perTick)
			}
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(quit); <-done }
}

// count is the number of documents in the test's indices.
func (p *clusterPipeline) count() int {
	p.t.Helper()
	return testkit.ESCountAt(p.t, p.c.ES, p.topic+"-*")
}

// waitCount waits until Elasticsearch holds at least n documents; it
// fails t after timeout with the count reached and what is missing.
func (p *clusterPipeline) waitCount(n int, timeout time.Duration, what string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.count()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("%s: %d documents after %v, want at least %d", what, got, timeout, n)
			p.report()
			p.t.FailNow()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkExactlyOnce waits until Elasticsearch holds as many documents as
// lines were written (failing at once if it holds more), then reads them
// all back and fails t unless each line of each stream is there exactly
// once: per stream every sequence number from 0 to the last written,
// once, and as many distinct event.id values as documents.
func (p *clusterPipeline) checkExactlyOnce(timeout time.Duration) {
	p.t.Helper()
	want := p.written()
	deadline := time.Now().Add(timeout)
	for {
		got := p.count()
		if got == want {
			break
		}
		if got > want || time.Now().After(deadline) {
			p.t.Errorf("%d documents in %s-*, want exactly the %d lines written (waited up to %v)", got, p.topic, want, timeout)
			p.report()
			p.t.FailNow()
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.t.Logf("the topic holds %d records for the %d lines", p.kafkaRecords(), want)
	p.logProblems()
	if bad := p.report(); bad {
		p.t.FailNow()
	}
}

// report reads every document back, compares it with the lines written,
// logs each stream's count and reports (as errors) every sequence number
// missing or found twice, and every event.id found twice. It returns
// whether anything was wrong.
func (p *clusterPipeline) report() (bad bool) {
	p.t.Helper()
	docs := p.scroll()
	ids := map[string]int{}
	seen := map[string]map[int]int{}
	for _, d := range docs {
		ids[d.id]++
		m := streamSeq.FindStringSubmatch(d.message)
		if m == nil {
			p.t.Errorf("document %s: message %q is no line of the test", d.id, d.message)
			bad = true
			continue
		}
		seq, _ := strconv.Atoi(m[2])
		if seen[m[1]] == nil {
			seen[m[1]] = map[int]int{}
		}
		seen[m[1]][seq]++
	}
	for id, n := range ids {
		if n > 1 {
			p.t.Errorf("event.id %s: %d documents", id, n)
			bad = true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.streams {
		var missing, twice []int
		for seq := 0; seq < s.written; seq++ {
			switch n := seen[s.name][seq]; {
			case n == 0:
				missing = append(missing, seq)
			case n > 1:
				twice = append(twice, seq)
			}
		}
		var beyond []int
		for seq := range seen[s.name] {
			if seq >= s.written {
				beyond = append(beyond, seq)
			}
		}
		sort.Ints(beyond)
		p.t.Logf("stream %s (%s): %d lines written, %d distinct in Elasticsearch", s.name, s.path, s.written, len(seen[s.name]))
		if len(missing)+len(twice)+len(beyond) > 0 {
			bad = true
			p.t.Errorf("stream %s: %d missing %s, %d more than once %s, %d never written %s", s.name,
				len(missing), ranges(missing), len(twice), ranges(twice), len(beyond), ranges(beyond))
		}
	}
	p.t.Logf("%d documents, %d distinct event.id, %d lines written", len(docs), len(ids), p.writtenLocked())
	return bad
}

func (p *clusterPipeline) writtenLocked() int {
	n := 0
	for _, s := range p.streams {
		n += s.written
	}
	return n
}

type clusterDoc struct{ id, message string }

// scroll reads every document of the test's indices.
func (p *clusterPipeline) scroll() []clusterDoc {
	p.t.Helper()
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID     string `json:"_id"`
				Source struct {
					Message string `json:"message"`
					Event   struct {
						ID string `json:"id"`
					} `json:"event"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	index := p.topic + "-*"
	testkit.ESAt(p.t, p.c.ES, "POST", "/"+index+"/_refresh?allow_no_indices=true", "", nil)
	var docs []clusterDoc
	var pg page
	testkit.ESAt(p.t, p.c.ES, "POST", "/"+index+"/_search?scroll=1m&allow_no_indices=true",
		`{"size": 5000, "sort": ["_doc"], "_source": ["message", "event.id"]}`, &pg)
	for len(pg.Hits.Hits) > 0 {
		for _, h := range pg.Hits.Hits {
			if h.Source.Event.ID != h.ID {
				p.t.Errorf("document %s has event.id %q", h.ID, h.Source.Event.ID)
			}
			docs = append(docs, clusterDoc{id: h.Source.Event.ID, message: h.Source.Message})
		}
		body, _ := json.Marshal(map[string]string{"scroll": "1m", "scroll_id": pg.ScrollID})
		id := pg.ScrollID
		pg = page{}
		testkit.ESAt(p.t, p.c.ES, "POST", "/_search/scroll", string(body), &pg)
		if pg.ScrollID == "" {
			pg.ScrollID = id
		}
	}
	if pg.ScrollID != "" {
		body, _ := json.Marshal(map[string]string{"scroll_id": pg.ScrollID})
		testkit.ESAt(p.t, p.c.ES, "DELETE", "/_search/scroll", string(body), nil)
	}
	return docs
}

// ranges writes sorted numbers as "[3-7 9]", at most 20 ranges.
func ranges(ns []int) string {
	if len(ns) == 0 {
		return "[]"
	}
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if len(parts) == 20 {
			parts = append(parts, "…")
			break
		}
		if i == j {
			parts = append(parts, strconv.Itoa(ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// kafkaRecords is the number of records in the test's topic: the sum of
// its partitions' end offsets. It asks again for up to a minute while a
// partition has no leader (a node just killed).
func (p *clusterPipeline) kafkaRecords() int64 {
	p.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(p.c.Kafka, ",")...))
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, p.topic)
		cancel()
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			var n int64
			listed.Each(func(o kadm.ListedOffset) { n += o.Offset })
			return n
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("end offsets of %s: %v", p.topic, err)
		}
		time.Sleep(time.Second)
	}
}

var logLevel = regexp.MustCompile(`level=(warning|error|fatal|panic) msg="((?:[^"\\]|\\.)*)"`)

// logProblems logs, for each process, the warnings and errors it logged,
// each distinct message once with how often: what brun said about the
// fault, for doc/cluster.md and for a failure's first look. Numbers in
// the messages are left as they are.
func (p *clusterPipeline) logProblems() {
	p.t.Helper()
	procs := map[string]*testkit.Proc{}
	for i, a := range p.agents {
		procs[fmt.Sprintf("agent %d", i+1)] = a.proc
	}
	for i, tr := range p.transfers {
		procs[fmt.Sprintf("transfer %d", i+1)] = tr
	}
	names := make([]string, 0, len(procs))
	for name := range procs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		counts := map[string]int{}
		var order []string
		for _, m := range logLevel.FindAllStringSubmatch(procs[name].Logs.String(), -1) {
			msg := m[1] + ": " + m[2]
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			if counts[msg] == 0 {
				order = append(order, msg)
			}
			counts[msg]++
		}
		for _, msg := range order {
			p.t.Logf("%s logged %d× %s", name, counts[msg], msg)
		}
	}
}

// dataPartitions returns the partitions of the test's topic that hold
// records, the fullest first.
func (p *clusterPipeline) dataPartitions() []int32 {
	p.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(p.c.Kafka, ",")...))
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, p.topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		p.t.Fatalf("end offsets of %s: %v", p.topic, err)
	}
	var out []kadm.ListedOffset
	listed.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			out = append(out, o)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Offset > out[j].Offset })
	parts := make([]int32, len(out))
	for i, o := range out {
		parts[i] = o.Partition
	}
	return parts
}

var logPartitions = regexp.MustCompile(`\[([0-9 ]*)\]`)

// ownedPartitions follows a transfer's log ("partitions assigned",
// "revoked", "lost", each with the topic's partitions in brackets) to the
// partitions of the test's topic it holds now.
func ownedPartitions(logs string) map[int32]bool {
	own := map[int32]bool{}
	for _, line := range strings.Split(logs, "\n") {
		var add bool
		switch {
		case strings.Contains(line, "partitions assigned"):
			add = true
		case strings.Contains(line, "partitions revoked"), strings.Contains(line, "partitions lost"):
		default:
			continue
		}
		for _, m := range logPartitions.FindAllStringSubmatch(line, -1) {
			for _, f := range strings.Fields(m[1]) {
				n, _ := strconv.Atoi(f)
				if add {
					own[int32(n)] = true
				} else {
					delete(own, int32(n))
				}
			}
		}
	}
	return own
}
