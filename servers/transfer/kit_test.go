package transfer

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"brun/base/config"
	"brun/base/testkit"
	"brun/servers/event"
)

// Helpers of the integration tests and of the benchmark: topics, events,
// offsets, a transfer in process, and a proxy that can cut Elasticsearch
// off.

// lineTime is the time written in every test line; its UTC day names the
// index.
const (
	lineDay  = "2026.11.25"
	lineText = "2026-11-25 04:05:06,789 INFO [main] request handled seq=%07d user=alice path=/api/v1/items"
)

func kafkaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_0_0_0
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Compression = sarama.CompressionLZ4
	c.Producer.Flush.Bytes = 1 << 20
	c.Producer.Flush.Frequency = 10 * time.Millisecond
	return c
}

// createTopic creates topic with n partitions and deletes it, and every
// index it was written to, when the test ends.
func createTopic(t testing.TB, topic string, n int32) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{testkit.KafkaAddr}, kafkaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		if a, err := sarama.NewClusterAdmin([]string{testkit.KafkaAddr}, kafkaConfig()); err == nil {
			a.DeleteTopic(topic)
			a.Close()
		}
		if !t.Failed() {
			// Wildcard deletes are refused (action.destructive_requires_name).
			testkit.ES(t, "DELETE", "/"+topic+"-"+lineDay+"?ignore_unavailable=true", "", nil)
		}
	})
}

// produce sends events from..from+n-1 of topic, event i to partition
// i%parts. Each partition's events look like one agent's file: host.name
// "p<partition>" and log.offset the event's offset in its partition, which
// the test checks against Kafka's own offsets (a fresh topic).
func produce(t testing.TB, topic string, parts int32, from, n int) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{testkit.KafkaAddr}, kafkaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	encs := make([]*event.Encoder, parts)
	for i := range encs {
		encs[i] = event.NewEncoder(event.Source{Host: fmt.Sprintf("p%d", i), AgentID: "bench-agent", Path: "/var/log/app.log", FileID: fmt.Sprintf("%s:%d", topic, i)})
	}
	produceWith(t, p, topic, parts, from, n, encs)
}

// newBenchEncoder is the encoder of one partition's events, as produce
// makes them.
func newBenchEncoder(topic string) *event.Encoder {
	return event.NewEncoder(event.Source{Host: "p0", AgentID: "bench-agent", Path: "/var/log/app.log", FileID: topic + ":0"})
}

func produceWith(t testing.TB, p sarama.SyncProducer, topic string, parts int32, from, n int, encs []*event.Encoder) {
	t.Helper()
	read := time.Now()
	const chunk = 5000
	for start := from; start < from+n; start += chunk {
		var msgs []*sarama.ProducerMessage
		for i := start; i < min(start+chunk, from+n); i++ {
			part := int32(i % int(parts))
			off := int64(i / int(parts))
			v := encs[part].Encode(fmt.Appendf(nil, lineText, i), off, read, 0)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: part, Value: sarama.ByteEncoder(v), Metadata: off})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		for _, m := range msgs {
			if m.Offset != m.Metadata.(int64) {
				t.Fatalf("%s/%d: event went to offset %d, want %d (is the topic fresh?)", topic, m.Partition, m.Offset, m.Metadata)
			}
		}
	}
}

// committed returns the group's committed offset of each partition (-1:
// none).
func committed(t testing.TB, group, topic string, parts int32) []int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{testkit.KafkaAddr}, kafkaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	r, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, parts)
	for i := range out {
		out[i] = -1
		if b := r.GetBlock(topic, int32(i)); b != nil {
			out[i] = b.Offset
		}
	}
	return out
}

// waitCommitted waits until every partition's committed offset is at its
// end: total events spread as produce spreads them.
func waitCommitted(t testing.TB, group, topic string, parts int32, total int, timeout time.Duration) {
	t.Helper()
	testkit.WaitFor(t, timeout, fmt.Sprintf("group %s to commit all %d events of %s", group, total, topic), func() bool {
		c := committed(t, group, topic, parts)
		for p := range c {
			want := int64(total / int(parts))
			if p < total%int(parts) {
				want++
			}
			if c[p] != want {
				return false
			}
		}
		return true
	})
}

// testConfig is a transfer-only configuration for topic and group.
func testConfig(esURL, topic, group string) *config.Config {
	c := config.Default()
	c.Brun.Roles = []string{config.RoleTransfer}
	c.Etcd.Endpoints = []string{testkit.EtcdAddr}
	c.Kafka.Endpoints = []string{testkit.KafkaAddr}
	c.ES.Endpoints = []string{esURL}
	c.ES.Nums = 2
	c.ES.Replicas = 0
	c.Transfer.Topics = []string{topic}
	c.Transfer.Group = group
	return &c
}

// startTransfer runs Run in process; stop cancels it and waits.
func startTransfer(t testing.TB, cfg *config.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, nil, nil) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("transfer: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// proxy forwards TCP connections to target until cut: then it closes its
// listener and every connection, so that connecting is refused, as when
// the server is down; restore listens again on the same port.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newProxy(t testing.TB, target string) *proxy {
	p := &proxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *proxy) pipe(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close(); c.Close() }()
	io.Copy(c, u)
	c.Close()
	u.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) restore(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
