package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/testkit"
)

// kcatLines is the size of the file both brun and kcat ship.
const kcatLines = 1000000

// BenchmarkAgentToKafka ships a file of 1,000,000 and one of 5,000,000
// lines of about 130 bytes (each with a unique sequence number) through a
// real agent process to the local Kafka, and reports lines/s, the agent's
// CPU-seconds per million lines and its peak RSS. Run by `make bench-agent`.
//
// The 1,000,000-line file is also shipped by kcat (librdkafka; the Debian
// package `.ci/stack.sh` installs with Kafka), to the same Kafka in the
// same run, with the agent's delivery settings (acks=all, idempotent,
// lz4): two rounds, kcat then brun each time, and brun's means are also
// reported as multiples of kcat's: x-kcat-lines/s (above 1: brun is
// faster) and x-kcat-cpu (above 1: brun spends more CPU per line).
func BenchmarkAgentToKafka(b *testing.B) {
	for _, n := range []int{kcatLines, 5000000} {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			testkit.Integration(b)
			if n == kcatLines {
				if _, err := exec.LookPath("kcat"); err != nil {
					b.Fatalf("kcat is not installed (`make bench-agent` installs it, as `.ci/stack.sh install kafka` does): %v", err)
				}
			}
			b.StopTimer()
			log := filepath.Join(b.TempDir(), "app.log")
			testkit.WriteBenchLines(b, log, n)
			adm := newAdmin(b)
			for i := 0; i < b.N; i++ {
				if n != kcatLines {
					r := brunShip(b, adm, log, n)
					b.ReportMetric(r.rate, "lines/s")
					b.ReportMetric(r.cpuPerM, "cpu-s/Mlines")
					b.ReportMetric(float64(r.peak)/(1<<20), "peak-RSS-MiB")
					continue
				}
				var brun, kcat [2]shipResult
				for round := range 2 {
					kcat[round] = kcatShip(b, adm, log, n)
					brun[round] = brunShip(b, adm, log, n)
					b.Logf("round %d: kcat %.0f lines/s, %.2f CPU-s per million lines; brun %.0f lines/s, %.2f CPU-s per million lines",
						round+1, kcat[round].rate, kcat[round].cpuPerM, brun[round].rate, brun[round].cpuPerM)
				}
				brunRate, kcatRate := (brun[0].rate+brun[1].rate)/2, (kcat[0].rate+kcat[1].rate)/2
				brunCPU, kcatCPU := (brun[0].cpuPerM+brun[1].cpuPerM)/2, (kcat[0].cpuPerM+kcat[1].cpuPerM)/2
				b.ReportMetric(brunRate, "lines/s")
				b.ReportMetric(brunCPU, "cpu-s/Mlines")
				b.ReportMetric(float64(max(brun[0].peak, brun[1].peak))/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(kcatRate, "kcat-lines/s")
				b.ReportMetric(kcatCPU, "kcat-cpu-s/Mlines")
				b.ReportMetric(brunRate/kcatRate, "x-kcat-lines/s")
				b.ReportMetric(brunCPU/kcatCPU, "x-kcat-cpu")
			}
		})
	}
}

// shipResult is one shipping of the file to Kafka.
type shipResult struct {
	rate    float64 // lines/s
	cpuPerM float64 // CPU-seconds of the shipper per million lines
	peak    int64   // the shipper's peak RSS in bytes; 0 when not measured
}

// brunShip ships the n-line file at log to a fresh topic with a fresh
// agent: the clock runs from the job's put until Kafka holds all n lines,
// and only the agent's CPU over that span is counted (not its start).
func brunShip(b *testing.B, adm *kadm.Client, log string, n int) shipResult {
	b.Helper()
	dir := b.TempDir()
	run := testkit.Unique("bench")
	conf := agentConf(b, dir, run)

	var args []string
	if prof := os.Getenv("BRUN_BENCH_CPUPROFILE"); prof != "" {
		args = []string{"-cpuprofile", prof}
	}
	p := testkit.StartBrun(b, conf, args...)
	time.Sleep(2 * time.Second) // connected, registered, idle
	cpu0 := testkit.CPUSeconds(b, p.Pid())
	b.StartTimer()
	start := time.Now()
	testkit.Etcdctl(b, "put", "/"+run+"/job/"+run+"/app", fmt.Sprintf(`{"path": %q, "topic": %q}`, log, run))
	elapsed := waitStored(b, adm, run, n, start, func() error {
		if !p.Alive() {
			return errors.New("brun exited")
		}
		return nil
	})
	b.StopTimer()
	cpu := testkit.CPUSeconds(b, p.Pid()) - cpu0
	peak := testkit.PeakRSS(p.Pid())
	p.Stop(60 * time.Second)
	if got := stored(adm, run); got != int64(n) {
		b.Fatalf("brun: %d records in kafka, want %d", got, n)
	}
	return shipResult{rate: float64(n) / elapsed.Seconds(), cpuPerM: cpu / (float64(n) / 1e6), peak: peak}
}

// kcatShip ships the n-line file at log to a fresh topic with kcat, one
// record per line: the clock runs from kcat's start until Kafka holds all
// n lines, and its CPU is all it used (getrusage of the exited process).
func kcatShip(b *testing.B, adm *kadm.Client, log string, n int) shipResult {
	b.Helper()
	topic := testkit.Unique("bench-kcat")
	var stderr bytes.Buffer
	cmd := exec.Command("kcat", "-P", "-b", testkit.KafkaAddr, "-t", topic,
		"-z", "lz4", "-X", "acks=all", "-X", "enable.idempotence=true", "-l", log)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("kcat: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	// kcat exits once librdkafka has delivered every line (acks=all), so
	// its time is its run time.
	select {
	case <-exited:
	case <-time.After(10 * time.Minute):
		b.Fatalf("kcat did not finish within 10 minutes")
	}
	elapsed := time.Since(start)
	if waitErr != nil {
		b.Fatalf("kcat: %v\n%s", waitErr, stderr.String())
	}
	// Then Kafka must hold every line: its end offsets may take a moment
	// to be listed for a topic that did not exist a second ago.
	var got int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got = stored(adm, topic); got == int64(n) || time.Now().After(deadline) {
			break
		}
	}
	if got != int64(n) {
		b.Fatalf("kcat exited, and kafka holds %d of its %d lines:\n%s", got, n, stderr.String())
	}
	st := cmd.ProcessState
	cpu := (st.UserTime() + st.SystemTime()).Seconds()
	return shipResult{rate: float64(n) / elapsed.Seconds(), cpuPerM: cpu / (float64(n) / 1e6)}
}

// waitStored polls topic every 20 ms until Kafka holds n records and
// returns the time since start. It fails b after 10 minutes, or when gone
// (asked before each look at Kafka, so that a shipper that exited after
// storing everything is not taken for one that exited early) returns an
// error: the shipper is gone with lines missing.
func waitStored(b *testing.B, adm *kadm.Client, topic string, n int, start time.Time, gone func() error) time.Duration {
	b.Helper()
	for {
		err := gone()
		got := stored(adm, topic)
		if got >= int64(n) {
			return time.Since(start)
		}
		if err != nil {
			b.Fatalf("%d of %d lines in kafka: %v", got, n, err)
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d lines in kafka after 10 minutes", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newAdmin returns an admin client of the test Kafka, closed when b ends.
func newAdmin(b *testing.B) *kadm.Client {
	b.Helper()
	// Metadata is asked again every 20 ms, not after franz-go's 5 s: a
	// topic created a moment ago is seen at once, and its end offsets
	// timed from then.
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaAddr), kgo.MetadataMinAge(20*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// stored sums the high-water marks of the topic's partitions: 0 while the
// topic does not exist; a partition whose end cannot be listed right now
// counts 0.
func stored(adm *kadm.Client, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offsets, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0
	}
	var sum int64
	offsets.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			sum += o.Offset
		}
	})
	return sum
}

// agentConf writes an agent-only ini under dir for a benchmark run: its
// own etcd prefix and agent id (run), the test Kafka, warnings only, and
// the lines of BRUN_BENCH_INI (for example "[kafka]\nchanMsgSize = 1000").
// BRUN_BENCH_CPUPROFILE=path writes each agent's CPU profile to path (the
// last run's is kept).
func agentConf(b *testing.B, dir, run string) string {
	b.Helper()
	conf := filepath.Join(dir, "brun.ini")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[brun]
roles = agent
data.dir = %s/data
[agent]
id = %s
[etcd]
endpoints = %s
prefix = /%s/
[kafka]
endpoints = %s
[log]
dir =
level = warn
`, dir, run, testkit.EtcdAddr, run, testkit.KafkaAddr)+strings.ReplaceAll(os.Getenv("BRUN_BENCH_INI"), `\n`, "\n")+"\n"), 0o644)
	if err != nil {
		b.Fatal(err)
	}
	return conf
}
