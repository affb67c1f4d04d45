package collector

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/config"
	"brun/base/testkit"
)

// BenchmarkKgoAlone sends 1,000,000 ready-made records of the agent's size
// (the JSON event of a 130-byte line, 317 bytes; all with one key, as one
// file's lines) to a fresh topic through franz-go alone, with the agent's delivery and batch settings
// (acks=all, idempotent, lz4, kafka.batch.bytes and kafka.batch.linger of
// the defaults: 1 MiB, 50 ms), and reports records/s and the benchmark
// process's CPU-seconds per million records: the ceiling the Kafka client
// sets for the agent. Run by `make bench-agent`.
func BenchmarkKgoAlone(b *testing.B) {
	testkit.Integration(b)
	const n = 1000000
	k := config.Default().Kafka
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(testkit.KafkaAddr),
		kgo.ClientID("bench"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerBatchMaxBytes(int32(k.BatchBytes)),
		kgo.ProducerLinger(k.BatchLinger),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close) // after the topic's deletion: cleanups run last first
	topic := testkit.Unique("kgo")
	adm := kadm.NewClient(cl)
	// -1, -1: the broker's partition count and replication factor, as
	// the topic the agent's first record creates.
	if _, err := adm.CreateTopic(context.Background(), -1, -1, nil, topic); err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
	b.Cleanup(func() { adm.DeleteTopics(context.Background(), topic) })

	value := []byte(fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":"%0116d","host":{"name":"bench"},"agent":{"id":"bench"},"log":{"file":{"path":"/tmp/app.log"},"offset":123456789},"event":{"id":"0123456789abcdef-75bcd15"}}`, 0))
	key := []byte("0123456789abcdef")
	var failed sync.Once
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Do(func() { b.Errorf("produce to %s: %v", topic, err) })
		}
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		cpu0 := cpuNow()
		start := time.Now()
		for j := 0; j < n; j++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}, promise)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(float64(n)/el.Seconds(), "records/s")
		b.ReportMetric((cpuNow()-cpu0)/(n/1e6), "cpu-s/Mrecords")
	}
}

// cpuNow is the user+system CPU time of this process so far, in seconds.
func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
