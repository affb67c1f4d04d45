package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/servers/console"
	"brun/servers/job"
	"brun/servers/scheduler"
	"brun/servers/status"
)

// fleetEtcd is where the fleet simulation finds etcd by default: the
// 3-member cluster of `make cluster-up`.
const fleetEtcd = "127.0.0.1:23379,127.0.0.1:23479,127.0.0.1:23579"

// TestFleetSimulation plays a fleet of agents against an etcd cluster
// with the agent's own registration (registrar: a lease session and the
// agent key), status reports (reportStatus, every statusInterval, under
// the lease) and job watch (etcdx.Mirror into a scheduler.Scheduler),
// without files or Kafka: a job's handle is a stand-in reporting one
// running file. For each fleet size it measures how long the fleet takes
// to register, etcd's database size, memory and CPU with the fleet
// running, how fast a job change reaches its agent (one job, then every
// agent's job at once), and the console's GET /api/agents (its real
// handler, in this process, over loopback HTTP). It prints one table, a
// column per fleet size (doc/scale.md).
//
// Skipped unless BRUN_FLEET=1 (`make fleet`). BRUN_FLEET_N: fleet sizes,
// comma-separated (default 100); BRUN_FLEET_ETCD: endpoints (default the
// 3-member cluster); BRUN_FLEET_CLIENTS: etcd clients the agents share
// (default one per agent while file descriptors allow, as real agents each
// have their own); BRUN_FLEET_STEADY: how long the running fleet is
// watched for CPU and database growth (default 30s).
func TestFleetSimulation(t *testing.T) {
	if os.Getenv("BRUN_FLEET") != "1" {
		t.Skip("fleet simulation: set BRUN_FLEET=1 (or run `make fleet`) to play BRUN_FLEET_N agents against the etcd at BRUN_FLEET_ETCD")
	}
	endpoints := strings.Split(envOr("BRUN_FLEET_ETCD", fleetEtcd), ",")
	steady, err := time.ParseDuration(envOr("BRUN_FLEET_STEADY", "30s"))
	if err != nil {
		t.Fatalf("BRUN_FLEET_STEADY: %v", err)
	}
	var sizes []int
	for _, s := range strings.Split(envOr("BRUN_FLEET_N", "100"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("BRUN_FLEET_N: %q is not a fleet size", s)
		}
		sizes = append(sizes, n)
	}
	var results []*fleetResult
	for _, n := range sizes {
		clients := min(n, maxFleetClients(len(endpoints)))
		if s := os.Getenv("BRUN_FLEET_CLIENTS"); s != "" {
			c, err := strconv.Atoi(s)
			if err != nil || c < 1 {
				t.Fatalf("BRUN_FLEET_CLIENTS: %q is not a number of clients", s)
			}
			clients = min(n, c)
		}
		t.Run(fmt.Sprintf("agents=%d", n), func(t *testing.T) {
			r := runFleet(t, endpoints, n, clients, steady)
			results = append(results, r)
		})
	}
	printFleetTable(os.Stdout, results)
}

// simAgent is one simulated host: the agent's registrar, status reporter
// and job mirror, with a scheduler whose jobs do nothing.
type simAgent struct {
	id    string
	reg   *registrar
	sched *scheduler.Scheduler

	mu       sync.Mutex
	listed   time.Time            // first time the mirror delivered the job set
	seen     map[string]time.Time // job value → when the scheduler got it
	register time.Time            // first time the registrar held a lease
}

// seenAt reports when the scheduler was given value for the agent's job
// "app"; zero while it was not.
func (a *simAgent) seenAt(value string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[value]
}

// onChange is what the agent's Run does with the mirror's job set (less
// the job cache file): the keys without the agent's prefix go to the
// scheduler. It also notes when each value of job "app" arrived.
func (a *simAgent) onChange(prefix string) func(map[string][]byte) {
	return func(kv map[string][]byte) {
		byName := make(map[string][]byte, len(kv))
		for k, v := range kv {
			byName[strings.TrimPrefix(k, prefix)] = v
		}
		a.sched.Apply(byName)
		now := time.Now()
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.listed.IsZero() {
			a.listed = now
		}
		if v, ok := byName["app"]; ok {
			if _, ok := a.seen[string(v)]; !ok {
				a.seen[string(v)] = now
			}
		}
	}
}

// idleJob stands in for a tail job: it reads nothing and reports one
// running file, so that the status value is the size of a real one.
type idleJob struct {
	name string
	spec job.Spec
}

func (j idleJob) Stop() {}

func (j idleJob) Status() status.Job {
	path := strings.ReplaceAll(j.spec.Path, "*", "app")
	return status.Job{Name: j.name, State: status.Running, Path: j.spec.Path, Topic: j.spec.Topic,
		Lines: 123456, Bytes: 16049280, Acked: 123456,
		Files: []status.File{{Path: path, Offset: 16049280, Size: 16049280}}}
}

// fleetJob is the job every simulated agent has; seq tells its versions
// apart.
func fleetJob(seq int) string {
	return fmt.Sprintf(`{"path":"/var/log/app/*.log","topic":"app","fields":{"env":"prod","seq":"%d"}}`, seq)
}

// fleetID is agent i's id: an IPv4 address, as the default agent id is.
func fleetID(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

// runFleet plays n agents on nclients clients against the etcd at
// endpoints, under a prefix of its own that it removes at the end, and
// returns what it measured; steady is how long the running fleet is
// watched.
func runFleet(t *testing.T, endpoints []string, n, nclients int, steady time.Duration) *fleetResult {
	r := &fleetResult{n: n, clients: nclients}
	prefix := fmt.Sprintf("/fleet-%d/", time.Now().UnixNano())
	keys := etcdx.Keys{Prefix: prefix}
	econf := config.Etcd{Endpoints: endpoints, DialTimeout: 5 * time.Second, Prefix: prefix}
	admin, err := etcdx.New(econf)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	etcdPIDs := etcdProcesses(t, endpoints)
	before := clusterStatus(t, admin, endpoints, 1)
	t.Logf("%d agents on %d etcd client(s), prefix %s; etcd members %v (pids %v), revision %d", n, nclients, prefix, endpoints, etcdPIDs, before.revision)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
			t.Errorf("removing %s: %v", prefix, err)
		}
	}()

	// Every agent has one job before it starts, as a fleet being restarted.
	forEach(n, 32, func(i int) { putRetrying(t, admin, keys.Job(fleetID(i), "app"), fleetJob(0)) })
	if t.Failed() {
		t.FailNow()
	}

	logs := &warnCounter{}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	logger.AddHook(logs)
	defer func() {
		if t.Failed() {
			n, first, kinds := logs.report()
			t.Logf("the agents logged %d warnings %v, the first %q", n, kinds, first)
		}
	}()
	clients := make([]*clientv3.Client, nclients)
	for i := range clients {
		if clients[i], err = etcdx.New(econf); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	agents := make([]*simAgent, n)
	for i := range agents {
		id := fleetID(i)
		cli := clients[i%nclients]
		log := logger.WithField("agent", id)
		a := &simAgent{id: id, seen: map[string]time.Time{}}
		a.reg = &registrar{cli: cli, key: keys.Agent(id), log: log, value: status.Registration{
			ID: id, Hostname: "host-" + strings.ReplaceAll(id, ".", "-"), IP: id, Version: "v0.9.0",
			PID: 4242, Roles: []string{"agent"}, StartedAt: time.Now().UTC(),
		}}
		a.sched = scheduler.New(func(name string, spec job.Spec) scheduler.Handle {
			return idleJob{name: name, spec: spec}
		}, nil, log)
		agents[i] = a
	}

	// Start the whole fleet at once.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for i, a := range agents {
		cli := clients[i%nclients]
		wg.Add(3)
		go func() { defer wg.Done(); a.reg.run(ctx) }()
		go func() {
			defer wg.Done()
			reportStatus(ctx, cli, keys.Status(a.id), a.id, a.reg, a.sched, a.reg.log)
		}()
		go func() {
			defer wg.Done()
			etcdx.Mirror(ctx, cli, keys.JobsOf(a.id), econf.DialTimeout, a.reg.log, a.onChange(keys.JobsOf(a.id)))
		}()
	}
	progress := time.Now()
	waitFor(t, 5*time.Minute, "every agent registered and listing its jobs", 10*time.Millisecond, func() bool {
		registered, listed := 0, 0
		now := time.Now()
		for _, a := range agents {
			if a.register.IsZero() && a.reg.Lease() != 0 {
				a.register = now
			}
			if !a.register.IsZero() {
				registered++
			}
			a.mu.Lock()
			if !a.listed.IsZero() {
				listed++
			}
			a.mu.Unlock()
		}
		if now.Sub(progress) >= 10*time.Second {
			t.Logf("after %v: %d registered, %d listing their jobs; %d warnings", now.Sub(start).Round(time.Second), registered, listed, logs.n.Load())
			progress = now
		}
		return registered == n && listed == n
	})
	var regs, lists []time.Duration
	for _, a := range agents {
		regs = append(regs, a.register.Sub(start))
		lists = append(lists, a.listed.Sub(start))
	}
	r.register, r.listed = summarize(regs), summarize(lists)
	t.Logf("registered: %v; listed: %v", r.register, r.listed)

	// Then every agent's status key, written on the agent's first ticks.
	waitFor(t, 2*time.Minute, "a status key for every agent", time.Second, func() bool {
		got := countKeys(t, admin, prefix+"status/")
		if got < n && time.Since(progress) >= 10*time.Second {
			progress = time.Now()
			t.Logf("after %v: %d status keys, %d agent keys", time.Since(start).Round(time.Second), got, countKeys(t, admin, prefix+"agent/"))
		}
		return got == n
	})
	r.allStatus = time.Since(start)

	// The running fleet: etcd's CPU, database growth and memory.
	// The window runs from the first CPU reading to the last: a member slow
	// to give its status lengthens it.
	t0, cpu0, self0, all0 := time.Now(), cpuSeconds(etcdPIDs), cpuSeconds([]int{os.Getpid()}), machineCPUSeconds()
	s0 := clusterStatus(t, admin, endpoints, 3)
	time.Sleep(steady)
	s1 := clusterStatus(t, admin, endpoints, 3)
	cpu1, self1, all1 := cpuSeconds(etcdPIDs), cpuSeconds([]int{os.Getpid()}), machineCPUSeconds()
	secs := time.Since(t0).Seconds()
	r.machineCPU = (all1 - all0) / secs
	r.etcdCPU = (cpu1 - cpu0) / secs
	r.simCPU = (self1 - self0) / secs
	r.revPerSec = float64(s1.revision-s0.revision) / secs
	r.dbGrowth = float64(s1.dbInUse-s0.dbInUse) / secs
	r.dbSize, r.dbInUse, r.dbInUseBefore = s1.dbSize, s1.dbInUse, before.dbInUse
	r.etcdRSS = rssBytes(etcdPIDs)
	r.simRSS = rssBytes([]int{os.Getpid()})[0]
	r.goroutines = runtime.NumGoroutine()
	t.Logf("steady %.0fs: machine %.2f cores, etcd %.2f cores, sim %.2f cores, %.0f revisions/s, db in use +%.0f B/s; db %d B (in use %d, was %d); etcd RSS %v; sim RSS %d B, %d goroutines",
		secs, r.machineCPU, r.etcdCPU, r.simCPU, r.revPerSec, r.dbGrowth, r.dbSize, r.dbInUse, before.dbInUse, r.etcdRSS, r.simRSS, r.goroutines)

	// One agent's job changes: from the Put to that agent's scheduler.
	const samples = 20
	var one []time.Duration
	for k := range samples {
		a := agents[(k*7919)%n]
		value := fleetJob(1000 + k)
		t0 := time.Now()
		putRetrying(t, admin, keys.Job(a.id, "app"), value)
		waitFor(t, time.Minute, "agent "+a.id+" seeing its changed job", time.Millisecond, func() bool { return !a.seenAt(value).IsZero() })
		one = append(one, a.seenAt(value).Sub(t0))
	}
	r.watchOne = summarize(one)
	t.Logf("one job changed: %v", r.watchOne)

	// Every agent's job changes at once: n Puts from 32 writers.
	putAt := make([]time.Time, n)
	value := fleetJob(2)
	t0 = time.Now()
	var retries atomic.Int64
	forEach(n, 32, func(i int) {
		putAt[i] = time.Now()
		retries.Add(int64(putRetrying(t, admin, keys.Job(agents[i].id, "app"), value)))
	})
	r.putAll, r.putRetries = time.Since(t0), retries.Load()
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, 10*time.Minute, "every agent seeing its changed job", 10*time.Millisecond, func() bool {
		for _, a := range agents {
			if a.seenAt(value).IsZero() {
				return false
			}
		}
		return true
	})
	var all []time.Duration
	last := t0
	for i, a := range agents {
		at := a.seenAt(value)
		all = append(all, at.Sub(putAt[i]))
		if at.After(last) {
			last = at
		}
	}
	r.watchAll, r.watchAllLast = summarize(all), last.Sub(t0)
	t.Logf("every job changed: puts took %v (%d retried), the last agent had it after %v; per agent %v", r.putAll, r.putRetries, r.watchAllLast, r.watchAll)

	// The console's agent list, as the page asks for it.
	r.api, r.apiBytes, r.apiAlive, r.apiFailed = consoleAgents(t, admin, endpoints, prefix, 10)
	t.Logf("GET /api/agents: %v, %d bytes, %d alive; %d of 10 failed", r.api, r.apiBytes, r.apiAlive, r.apiFailed)

	// Stop: every agent revokes its lease.
	t0 = time.Now()
	stop()
	wg.Wait()
	r.stop = time.Since(t0)
	r.leftAfterStop = countKeys(t, admin, prefix+"agent/")
	r.warnings, r.firstWarnings, r.warningKinds = logs.report()
	t.Logf("stopped in %v; %d agent keys left; %d warnings %v, the first %q", r.stop, r.leftAfterStop, r.warnings, r.warningKinds, r.firstWarnings)
	return r
}

// consoleAgents asks the console's real handler, served on loopback, for
// GET /api/agents times times; it returns the latencies of the answers
// that were 200, the last one's size, how many agents it shows alive, and
// how many answers were errors (the console gives etcd 5 s, then answers
// 502).
func consoleAgents(t *testing.T, cli *clientv3.Client, endpoints []string, prefix string, times int) (_ latency, size, alive, failed int) {
	cfg := config.Default()
	cfg.Brun.Roles = []string{config.RoleConsole}
	cfg.Etcd.Endpoints, cfg.Etcd.Prefix = endpoints, prefix
	cfg.Console.Listen = "127.0.0.1:0"
	token := fmt.Sprintf("fleet-%x", rand.Uint64())
	srv := httptest.NewServer(console.New(&cfg, cli, token).Handler())
	defer srv.Close()
	get := func() ([]byte, time.Duration, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/agents", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		took := time.Since(t0)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%d %.200s", resp.StatusCode, body)
		}
		return body, took, err
	}
	get() // the first request dials etcd and HTTP
	var took []time.Duration
	var body []byte
	for range times {
		b, d, err := get()
		if err != nil {
			t.Logf("GET /api/agents after %v: %v", d, err)
			failed++
			continue
		}
		body = b
		took = append(took, d)
	}
	if body == nil {
		return latency{}, 0, 0, failed
	}
	var list []struct{ Alive bool }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET /api/agents: %v", err)
	}
	for _, a := range list {
		if a.Alive {
			alive++
		}
	}
	return summarize(took), len(body), alive, failed
}

// putRetrying puts key as a script changing every job would: a Put
// etcd refuses (too many requests, a connection lost under load) is
// tried again after a second, for up to a minute. It returns how many
// times it tried again.
func putRetrying(t *testing.T, cli *clientv3.Client, key, value string) int {
	deadline := time.Now().Add(time.Minute)
	for retries := 0; ; retries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cli.Put(ctx, key, value)
		cancel()
		if err == nil {
			return retries
		}
		if time.Now().After(deadline) {
			t.Errorf("put %s: %v (tried %d times)", key, err, retries+1)
			return retries
		}
		time.Sleep(time.Second)
	}
}

// maxFleetClients is how many etcd clients the file descriptor limit
// leaves room for: a client holds a connection to each endpoint.
func maxFleetClients(endpoints int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1000
	}
	return max(1, (int(lim.Cur)-1000)/endpoints)
}

// warnCounter counts the warnings the simulated agents log and keeps the
// first few.
type warnCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	first []string
	kinds map[string]int // by the part of the message in warnKinds
}

// warnKinds tell the agents' warnings apart: the registrar's, the
// mirror's and the status reporter's.
var warnKinds = []string{"can't register", "lease of", "can't list", "watch of", "write status"}

func (w *warnCounter) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (w *warnCounter) Fire(e *logrus.Entry) error {
	w.n.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	kind := "other"
	for _, k := range warnKinds {
		if strings.Contains(e.Message, k) {
			kind = k
			break
		}
	}
	if w.kinds == nil {
		w.kinds = map[string]int{}
	}
	w.kinds[kind]++
	if len(w.first) < 3 {
		w.first = append(w.first, fmt.Sprintf("%v: %s", e.Data["agent"], e.Message))
	}
	return nil
}

func (w *warnCounter) report() (int64, []string, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n.Load(), w.first, w.kinds
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// forEach calls f(0) … f(n-1) from workers goroutines.
func forEach(n, workers int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// waitFor polls cond every poll until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, poll time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(poll)
	}
}

func countKeys(t *testing.T, cli *clientv3.Client, prefix string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("count %s: %v", prefix, err)
	}
	return int(resp.Count)
}
