package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"brun/base/testkit"
)

// BenchmarkLocalMode ships a file of 1,000,000 lines of about 130 bytes
// through one brun process with no server (embedded etcd, in-process
// hand-off, local files): the path a first run takes. It reports lines/s
// from the job's creation until the last document is on disk, brun's
// CPU-seconds per million lines and its peak RSS. Run by `make
// bench-local`. BRUN_BENCH_INI adds ini lines (e.g. smaller channels).
func BenchmarkLocalMode(b *testing.B) {
	if os.Getenv("BRUN_INTEGRATION") != "1" {
		b.Skip("run `make bench-local` (it needs etcdctl)")
	}
	const n = 1000000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		logFile := filepath.Join(dir, "app.log")
		testkit.WriteBenchLines(b, logFile, n)
		etcdAddr, consoleAddr := testkit.FreeAddr(b), testkit.FreeAddr(b)
		conf := filepath.Join(dir, "brun.ini")
		writeFile(b, conf, fmt.Sprintf(`
[brun]
data.dir = %s/data
[agent]
id = bench
[etcd]
embed.listen = %s
[console]
listen = %s
%s
[log]
dir =
level = warn
`, dir, etcdAddr, consoleAddr, os.Getenv("BRUN_BENCH_INI")))
		p := testkit.StartBrun(b, conf)
		testkit.WaitFor(b, time.Minute, "the console", func() bool { return indexed(consoleAddr) >= 0 })
		cpu0 := testkit.CPUSeconds(b, p.Pid())
		root := testkit.EmbeddedEtcdUser(b, filepath.Join(dir, "data", "etcd"))

		b.StartTimer()
		start := time.Now()
		testkit.EtcdctlAs(b, etcdAddr, root, "put", "/logagent/job/bench/app", fmt.Sprintf(`{"path": %q, "topic": "app"}`, logFile))
		for indexed(consoleAddr) < n {
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("only %d of %d lines stored after 10 minutes", indexed(consoleAddr), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		cpu := testkit.CPUSeconds(b, p.Pid()) - cpu0
		peak := testkit.PeakRSS(p.Pid())
		p.Stop(time.Minute)
		if got := countLines(b, filepath.Join(dir, "data", "es")); got != n {
			b.Fatalf("%d documents in the local files, want %d", got, n)
		}
		b.ReportMetric(n/elapsed.Seconds(), "lines/s")
		b.ReportMetric(cpu/(n/1e6), "cpu-s/Mlines")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

var indexedSeries = regexp.MustCompile(`(?m)^brun_transfer_docs_indexed_total\{topic="app"\} (\S+)$`)

// indexed reads how many documents the transfer stored from /metrics; -1
// when the console does not answer.
func indexed(addr string) int {
	code, body := httpGetBody("http://" + addr + "/metrics")
	if code != 200 {
		return -1
	}
	m := indexedSeries.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return int(v)
}

func httpGetBody(url string) (int, string) {
	res, err := httpClient.Get(url)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res.StatusCode, buf.String()
}

// countLines counts the documents of every local file under dir.
func countLines(b *testing.B, dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.ndjson"))
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		total += bytes.Count(data, []byte("\n"))
	}
	return total
}
