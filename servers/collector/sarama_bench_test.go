package collector

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"brun/base/config"
	"brun/base/testkit"
)

// BenchmarkSaramaAlone sends 1,000,000 ready-made records of the agent's
// size through sarama's AsyncProducer with the agent's settings (acks=all,
// idempotent, lz4, 1 MiB batches) and nothing else: the floor under the
// agent's own CPU per line. Run by `make bench-agent`.
func BenchmarkSaramaAlone(b *testing.B) {
	testkit.Integration(b)
	const n = 1000000
	k := config.Default().Kafka
	k.Endpoints = []string{testkit.KafkaAddr}
	sc, err := saramaConfig(ProducerConfig{Kafka: k, ClientID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	topic := testkit.Unique("sarama")
	value := []byte(fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":"%0116d","host":{"name":"bench"},"agent":{"id":"bench"},"log":{"file":{"path":"/tmp/app.log"},"offset":123456789},"event":{"id":"0123456789abcdef-75bcd15"}}`, 0))
	key := sarama.ByteEncoder("0123456789abcdef")
	for i := 0; i < b.N; i++ {
		ap, err := sarama.NewAsyncProducer(k.Endpoints, sc)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			for range ap.Successes() {
			}
			close(done)
		}()
		go func() {
			for e := range ap.Errors() {
				b.Error(e)
			}
		}()
		cpu0 := cpuNow()
		start := time.Now()
		for j := 0; j < n; j++ {
			ap.Input() <- &sarama.ProducerMessage{Topic: topic, Key: key, Value: sarama.ByteEncoder(value)}
		}
		ap.AsyncClose()
		<-done
		el := time.Since(start)
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
		b.ReportMetric((cpuNow()-cpu0)/(n/1e6), "cpu-s/Mmsgs")
	}
}

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
