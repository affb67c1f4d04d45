package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"brun/base/testkit"
)

// BenchmarkAgentToKafka ships a file of 1,000,000 and one of 5,000,000
// lines of about 130 bytes (each with a unique sequence number) through a
// real agent process to the local Kafka, and reports lines/s, the agent's
// CPU-seconds per million lines and its peak RSS. Run by `make bench-agent`.
func BenchmarkAgentToKafka(b *testing.B) {
	for _, n := range []int{1000000, 5000000} {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchShip(b, n)
			}
		})
	}
}

func benchShip(b *testing.B, n int) {
	testkit.Integration(b)
	b.StopTimer()
	dir := b.TempDir()
	run := testkit.Unique("bench")
	log := filepath.Join(dir, "app.log")
	testkit.WriteBenchLines(b, log, n)
	conf := filepath.Join(dir, "brun.ini")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
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
`, dir, run, testkit.EtcdAddr, run, testkit.KafkaAddr)), 0o644)

	client, err := sarama.NewClient([]string{testkit.KafkaAddr}, sarama.NewConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()

	p := testkit.StartBrun(b, conf)
	time.Sleep(2 * time.Second) // connected, registered, idle
	cpu0 := testkit.CPUSeconds(b, p.Pid())
	b.StartTimer()
	start := time.Now()
	testkit.Etcdctl(b, "put", "/"+run+"/job/"+run+"/app", fmt.Sprintf(`{"path": %q, "topic": %q}`, log, run))
	for {
		if stored(client, run) >= int64(n) {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("only %d of %d lines in kafka after 10 minutes", stored(client, run), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := testkit.CPUSeconds(b, p.Pid()) - cpu0
	peak := testkit.PeakRSS(p.Pid())
	p.Stop(60 * time.Second)
	if got := stored(client, run); got != int64(n) {
		b.Fatalf("%d records in kafka, want %d", got, n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
	b.ReportMetric(cpu/(float64(n)/1e6), "cpu-s/Mlines")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
}

// stored sums the high-water marks of the topic's partitions.
func stored(c sarama.Client, topic string) int64 {
	c.RefreshMetadata(topic)
	parts, err := c.Partitions(topic)
	if err != nil {
		return 0
	}
	var sum int64
	for _, p := range parts {
		if off, err := c.GetOffset(topic, p, sarama.OffsetNewest); err == nil {
			sum += off
		}
	}
	return sum
}
