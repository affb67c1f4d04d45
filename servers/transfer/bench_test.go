package transfer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"brun/base/testkit"
	"brun/servers/indexname"
)

// BenchmarkTransferVsBulkLoader measures, in one run against the local
// Kafka and Elasticsearch: the transfer (bin/brun, roles=transfer) reading
// BRUN_BENCH_DOCS events (default 1,000,000) from Kafka into Elasticsearch,
// and a plain bulk loader sending the same documents as pre-built _bulk
// bodies of es.bulk.actions, with the same number of workers (es.nums),
// to the same Elasticsearch. Run it with `make bench-transfer`.
//
// Reported: docs/s of each, the ratio, and CPU-seconds per million
// documents of each (the transfer's process; the loader's own process).
// Rates are taken between the first and the last document stored, so the
// transfer's start (joining the group) is not counted. It runs two rounds,
// in opposite orders, and reports their means.
//
// BRUN_BENCH_INI adds ini lines to the transfer's (for example
// "[es]\nchanSize = 10000"); BRUN_BENCH_CPUPROFILE=path writes the
// transfer's CPU profile of each round to path.1 and path.2.
func BenchmarkTransferVsBulkLoader(b *testing.B) {
	testkit.Integration(b)
	n := 1000000
	if s := os.Getenv("BRUN_BENCH_DOCS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const parts, workers, actions = 4, 4, 5000
	for b.Loop() {
		// Two rounds in opposite orders: whichever runs second meets the
		// merges of the first's million documents.
		var tr, ld [2]benchResult
		for round := 0; round < 2; round++ {
			topic, group := testkit.Unique("bench-xfer"), testkit.Unique("bench-xfer-group")
			loadTopic := testkit.Unique("bench-load")
			createTopic(b, topic, parts)
			b.Cleanup(func() {
				testkit.ES(b, "DELETE", "/"+loadTopic+"-"+lineDay+"?ignore_unavailable=true", "", nil)
			})
			start := time.Now()
			produce(b, topic, parts, 0, n)
			b.Logf("round %d: produced %d events to %s in %v", round+1, n, topic, time.Since(start).Round(time.Millisecond))
			if round == 0 {
				ld[round] = loader(b, loadTopic, n, workers, actions)
				tr[round] = transferRun(b, topic, group, n, parts, workers, round+1)
			} else {
				tr[round] = transferRun(b, topic, group, n, parts, workers, round+1)
				ld[round] = loader(b, loadTopic, n, workers, actions)
			}
			b.Logf("round %d: plain loader %.0f docs/s, %.2f CPU-s per million docs", round+1, ld[round].rate, ld[round].cpuPerM)
			b.Logf("round %d: transfer     %.0f docs/s, %.2f CPU-s per million docs (%.2f CPU-s in all, peak RSS %d MiB)",
				round+1, tr[round].rate, tr[round].cpuPerM, tr[round].cpuTotal, tr[round].rssMiB)
			b.Logf("round %d: transfer / loader %.1f%%", round+1, 100*tr[round].rate/ld[round].rate)
		}
		trRate, ldRate := (tr[0].rate+tr[1].rate)/2, (ld[0].rate+ld[1].rate)/2
		b.Logf("mean: transfer %.0f docs/s, loader %.0f docs/s: %.1f%%", trRate, ldRate, 100*trRate/ldRate)
		b.ReportMetric(trRate, "transfer-docs/s")
		b.ReportMetric(ldRate, "loader-docs/s")
		b.ReportMetric(100*trRate/ldRate, "%-of-loader")
		b.ReportMetric((tr[0].cpuPerM+tr[1].cpuPerM)/2, "transfer-CPU-s/Mdocs")
		b.ReportMetric((ld[0].cpuPerM+ld[1].cpuPerM)/2, "loader-CPU-s/Mdocs")
		b.ReportMetric(float64(max(tr[0].rssMiB, tr[1].rssMiB)), "transfer-peak-RSS-MiB")
	}
}

type benchResult struct {
	rate, cpuPerM, cpuTotal float64
	rssMiB                  int64
}

// loader sends n documents, built as the transfer builds them, as
// pre-built bulk bodies with workers concurrent senders.
func loader(b *testing.B, topic string, n, workers, actions int) benchResult {
	pat, _ := indexname.Parse("{topic}-{yyyy.MM.dd}")
	p := newPartition(topic, 0, pat)
	var bodies [][]byte
	var body []byte
	read := time.Now()
	enc := newBenchEncoder(topic)
	for i := 0; i < n; i++ {
		v := enc.Encode(fmt.Appendf(nil, lineText, i), int64(i), read, 0)
		body = append(body, p.newDocument(v, int64(i), read, read).entry...)
		if (i+1)%actions == 0 || i == n-1 {
			bodies = append(bodies, body)
			body = nil
		}
	}
	work := make(chan []byte, len(bodies))
	for _, bd := range bodies {
		work <- bd
	}
	close(work)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var wg sync.WaitGroup
	var failed sync.Once
	cpu0 := selfCPU()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bd := range work {
				res, err := client.Post(testkit.ESURL+"/_bulk?filter_path="+bulkFilter, "application/x-ndjson", bytes.NewReader(bd))
				if err != nil {
					failed.Do(func() { b.Errorf("loader: %v", err) })
					continue
				}
				answer, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !bytes.HasPrefix(answer, []byte(`{"errors":false`)) {
					failed.Do(func() { b.Errorf("loader: %s %.300s", res.Status, answer) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	cpu := selfCPU() - cpu0
	if got := testkit.ESCount(b, topic+"-*"); got != n {
		b.Fatalf("loader: %d documents stored, want %d", got, n)
	}
	return benchResult{rate: float64(n) / elapsed, cpuPerM: cpu / float64(n) * 1e6, cpuTotal: cpu}
}

// transferRun runs bin/brun as the transfer of topic until all n events
// are stored, sampling its stored-documents counter; its peak RSS is the
// kernel's high-water mark (VmHWM).
func transferRun(b *testing.B, topic, group string, n int, parts int32, workers, round int) benchResult {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	metricsAddr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	conf := dir + "/brun.ini"
	ini := fmt.Sprintf("[brun]\nroles = transfer\ndata.dir = %s/data\nmetrics.listen = %s\n[etcd]\nendpoints = %s\n[kafka]\nendpoints = %s\n[es]\nendpoints = %s\nnums = %d\n[transfer]\ntopics = %s\ngroup = %s\n[log]\ndir =\nlevel = warn\n",
		dir, metricsAddr, testkit.EtcdAddr, testkit.KafkaAddr, testkit.ESURL, workers, topic, group)
	ini += strings.ReplaceAll(os.Getenv("BRUN_BENCH_INI"), `\n`, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		b.Fatal(err)
	}
	var args []string
	if prof := os.Getenv("BRUN_BENCH_CPUPROFILE"); prof != "" {
		args = []string{"-cpuprofile", fmt.Sprintf("%s.%d", prof, round)}
	}
	p := testkit.StartBrun(b, conf, args...)
	var t0 time.Time
	var n0 int
	var cpu0 float64
	deadline := time.Now().Add(10 * time.Minute)
	for {
		// Every 200 ms: a scrape of /metrics costs the transfer CPU too.
		stored := indexedTotal(metricsAddr)
		if stored > 0 && t0.IsZero() {
			t0, n0, cpu0 = time.Now(), stored, procCPU(p.Pid())
		}
		if stored >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("transfer: %d of %d documents stored after 10 minutes", stored, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(t0).Seconds()
	cpu := procCPU(p.Pid())
	peak := testkit.PeakRSS(p.Pid()) // VmHWM: the peak, not a sample
	waitCommitted(b, group, topic, parts, n, 2*time.Minute)
	p.Stop(30 * time.Second)
	if got := testkit.ESCount(b, topic+"-*"); got != n {
		b.Fatalf("transfer: %d documents stored, want %d", got, n)
	}
	return benchResult{
		rate: float64(n-n0) / elapsed, cpuPerM: (cpu - cpu0) / float64(n-n0) * 1e6,
		cpuTotal: cpu, rssMiB: peak >> 20,
	}
}

// indexedTotal scrapes brun_transfer_docs_indexed_total (all topics).
func indexedTotal(addr string) int {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "brun_transfer_docs_indexed_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return int(total)
}

// procCPU returns a process's user+system CPU seconds (Linux).
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
