package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fleetResult is what one fleet size measured.
type fleetResult struct {
	n, clients int

	register, listed latency       // from the fleet's start, per agent
	allStatus        time.Duration // until every agent's status key was in

	etcdCPU, simCPU float64 // cores, while the fleet ran
	machineCPU      float64 // cores the whole machine used meanwhile
	revPerSec       float64 // etcd revisions (writes) per second, likewise
	dbGrowth        float64 // bytes per second of etcd's database in use, likewise

	dbSize, dbInUse, dbInUseBefore int64 // the largest member's
	etcdRSS                        []int64
	simRSS                         int64
	goroutines                     int

	watchOne      latency // one job changed
	putAll        time.Duration
	putRetries    int64
	watchAll      latency // every agent's job changed, per agent
	watchAllLast  time.Duration
	api           latency
	apiBytes      int
	apiAlive      int
	apiFailed     int
	stop          time.Duration
	leftAfterStop int
	warnings      int64
	firstWarnings []string
	warningKinds  map[string]int
}

// latency summarises durations.
type latency struct{ p50, p99, max time.Duration }

func (l latency) String() string { return fmt.Sprintf("p50 %v p99 %v max %v", l.p50, l.p99, l.max) }

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return latency{p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

// memberStatus is the cluster's revision and the largest member's
// database: its file (DbSize) and what it holds (DbSizeInUse).
type memberStatus struct {
	revision        int64
	dbSize, dbInUse int64
}

// clusterStatus asks every member for its status. A member busy with the
// fleet may take long to answer: each is asked up to tries times, 20 s
// each.
func clusterStatus(t *testing.T, cli *clientv3.Client, endpoints []string, tries int) memberStatus {
	t.Helper()
	var s memberStatus
	for _, ep := range endpoints {
		var resp *clientv3.StatusResponse
		var err error
		for range tries {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			resp, err = cli.Status(ctx, ep)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("etcd %s: %v (start the 3-member etcd: `make cluster-up`, or see doc/scale.md)", ep, err)
		}
		s.revision = max(s.revision, resp.Header.Revision)
		s.dbSize = max(s.dbSize, resp.DbSize)
		s.dbInUse = max(s.dbInUse, resp.DbSizeInUse)
	}
	return s
}

// etcdProcesses finds the processes listening on the endpoints' ports on
// this host, through /proc/net/tcp and each process's descriptors: one
// pid per endpoint that is local.
func etcdProcesses(t *testing.T, endpoints []string) []int {
	inodes := map[string]bool{}
	ports := map[string]bool{}
	for _, ep := range endpoints {
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(ep, "http://")); err == nil {
			p, _ := strconv.Atoi(port)
			ports[fmt.Sprintf("%04X", p)] = true
		}
	}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... uid timeout inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			if _, port, ok := strings.Cut(fs[1], ":"); ok && ports[port] {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
		f.Close()
	}
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		fds, _ := os.ReadDir(p + "/fd")
		for _, fd := range fds {
			if link, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && inodes[link] {
				pids = append(pids, pid)
				break
			}
		}
	}
	if len(pids) == 0 {
		t.Logf("no local process listens on %v: etcd's memory and CPU are not measured", endpoints)
	}
	return pids
}

// cpuSeconds is the user and system CPU time the processes have used.
func cpuSeconds(pids []int) float64 {
	total := 0.0
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses:
		// state is field 3, utime 14, stime 15.
		rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
		fs := strings.Fields(rest)
		utime, _ := strconv.ParseFloat(fs[11], 64)
		stime, _ := strconv.ParseFloat(fs[12], 64)
		total += (utime + stime) / 100 // USER_HZ is 100 on Linux
	}
	return total
}

// machineCPUSeconds is the CPU time the whole machine has spent busy
// (every state but idle and iowait), from /proc/stat.
func machineCPUSeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fs := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	total := 0.0
	for i, f := range fs[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal; guest time is in user already
			continue
		}
		v, _ := strconv.ParseFloat(f, 64)
		total += v
	}
	return total / 100 // USER_HZ
}

// rssBytes is each process's resident memory (VmRSS).
func rssBytes(pids []int) []int64 {
	var out []int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			out = append(out, 0)
			continue
		}
		var kb int64
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
		out = append(out, kb*1024)
	}
	return out
}

// printFleetTable writes the results as a Markdown table, one column per
// fleet size.
func printFleetTable(w io.Writer, rs []*fleetResult) {
	if len(rs) == 0 {
		return
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 0, 64) }
	sec := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }
	mib := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
	rows := []struct {
		name string
		cell func(r *fleetResult) string
	}{
		{"etcd clients (agents share them)", func(r *fleetResult) string { return strconv.Itoa(r.clients) }},
		{"registered, all (s)", func(r *fleetResult) string { return sec(r.register.max) }},
		{"registered, p50 / p99 (s)", func(r *fleetResult) string { return sec(r.register.p50) + " / " + sec(r.register.p99) }},
		{"first job list, all (s)", func(r *fleetResult) string { return sec(r.listed.max) }},
		{"every status key in (s)", func(r *fleetResult) string { return sec(r.allStatus) }},
		{"etcd writes/s, running", func(r *fleetResult) string { return strconv.FormatFloat(r.revPerSec, 'f', 0, 64) }},
		{"etcd CPU, 3 members (cores)", func(r *fleetResult) string { return strconv.FormatFloat(r.etcdCPU, 'f', 2, 64) }},
		{"simulator CPU (cores)", func(r *fleetResult) string { return strconv.FormatFloat(r.simCPU, 'f', 2, 64) }},
		{"machine CPU, everything (cores of 2)", func(r *fleetResult) string { return strconv.FormatFloat(r.machineCPU, 'f', 2, 64) }},
		{"etcd DB size, file (MiB)", func(r *fleetResult) string { return mib(r.dbSize) }},
		{"etcd DB in use, before → running (MiB)", func(r *fleetResult) string { return mib(r.dbInUseBefore) + " → " + mib(r.dbInUse) }},
		{"etcd DB in use, growth (KiB/s, no compaction)", func(r *fleetResult) string {
			return strconv.FormatFloat(r.dbGrowth/1024, 'f', 1, 64)
		}},
		{"etcd RSS per member (MiB)", func(r *fleetResult) string {
			var s []string
			for _, b := range r.etcdRSS {
				s = append(s, mib(b))
			}
			return strings.Join(s, ", ")
		}},
		{"simulator RSS (MiB) / goroutines", func(r *fleetResult) string { return mib(r.simRSS) + " / " + strconv.Itoa(r.goroutines) }},
		{"one job changed → its agent, p50 / max (ms)", func(r *fleetResult) string { return ms(r.watchOne.p50) + " / " + ms(r.watchOne.max) }},
		{"every agent's job changed: Puts took (s)", func(r *fleetResult) string { return sec(r.putAll) }},
		{"… Puts that failed and were tried again", func(r *fleetResult) string { return strconv.FormatInt(r.putRetries, 10) }},
		{"… → the last agent had it (s)", func(r *fleetResult) string { return sec(r.watchAllLast) }},
		{"… per agent from its Put, p50 / p99 (ms)", func(r *fleetResult) string { return ms(r.watchAll.p50) + " / " + ms(r.watchAll.p99) }},
		{"GET /api/agents, p50 / max (ms)", func(r *fleetResult) string { return ms(r.api.p50) + " / " + ms(r.api.max) }},
		{"GET /api/agents, answer (KiB)", func(r *fleetResult) string { return strconv.Itoa(r.apiBytes / 1024) }},
		{"GET /api/agents, agents alive / errors of 10", func(r *fleetResult) string {
			return strconv.Itoa(r.apiAlive) + " / " + strconv.Itoa(r.apiFailed)
		}},
		{"stop, every lease revoked (s)", func(r *fleetResult) string { return sec(r.stop) }},
		{"agent warnings logged", func(r *fleetResult) string {
			var kinds []string
			for _, k := range append(warnKinds, "other") {
				if c := r.warningKinds[k]; c > 0 {
					kinds = append(kinds, fmt.Sprintf("%d %q", c, k))
				}
			}
			if len(kinds) == 0 {
				return strconv.FormatInt(r.warnings, 10)
			}
			return strconv.FormatInt(r.warnings, 10) + ": " + strings.Join(kinds, ", ")
		}},
	}
	fmt.Fprint(w, "\n| agents |")
	for _, r := range rs {
		fmt.Fprintf(w, " %d |", r.n)
	}
	fmt.Fprint(w, "\n|---|")
	for range rs {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |", row.name)
		for _, r := range rs {
			fmt.Fprintf(w, " %s |", row.cell(r))
		}
		fmt.Fprintln(w)
	}
}
