package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brun/base/testkit"
)

// BenchmarkIdleFiles measures what quiet files cost: an agent tails 1,000
// files of 10 lines each (one glob job), ships them, and then sits idle
// for 60 s with every file open; it reports the agent's CPU over that
// minute as a share of one core, and its RSS at the end. Run by
// `make bench-agent`.
func BenchmarkIdleFiles(b *testing.B) {
	testkit.Integration(b)
	const files, lines = 1000, 10
	const idle = 60 * time.Second
	b.StopTimer()
	adm := newAdmin(b)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		logs := filepath.Join(dir, "logs")
		if err := os.Mkdir(logs, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			var text []byte
			for l := range lines {
				text = fmt.Appendf(text, "2026-11-25 04:05:06,789 INFO [main] file %04d line %02d of a quiet application\n", f, l)
			}
			if err := os.WriteFile(filepath.Join(logs, fmt.Sprintf("app-%04d.log", f)), text, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		run := testkit.Unique("idle")
		conf := agentConf(b, dir, run)
		var args []string
		if prof := os.Getenv("BRUN_BENCH_CPUPROFILE"); prof != "" {
			args = []string{"-cpuprofile", prof} // the whole run, shipping included
		}
		p := testkit.StartBrun(b, conf, args...)
		testkit.Etcdctl(b, "put", "/"+run+"/job/"+run+"/app", fmt.Sprintf(`{"path": %q, "topic": %q}`, logs+"/*.log", run))
		waitStored(b, adm, run, files*lines, time.Now(), func() error { return nil })
		// Settled: every file read to its end and acked, offsets saved.
		time.Sleep(5 * time.Second)
		cpu0 := testkit.CPUSeconds(b, p.Pid())
		start := time.Now()
		b.StartTimer()
		time.Sleep(idle)
		b.StopTimer()
		cpu := testkit.CPUSeconds(b, p.Pid()) - cpu0
		rss := p.RSS()
		p.Stop(30 * time.Second)
		b.ReportMetric(100*cpu/time.Since(start).Seconds(), "idle-%core")
		b.ReportMetric(float64(rss)/(1<<20), "idle-RSS-MiB")
	}
}
