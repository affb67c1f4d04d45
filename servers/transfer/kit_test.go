package transfer

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/config"
	"brun/base/kafkax"
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

// newKafkaClient returns a client of the test Kafka that produces as the
// tests need: to the partition each record names (Partition), stored by
// every in-sync replica, in lz4 batches of up to 1 MiB. The caller closes
// it.
func newKafkaClient(t testing.TB) *kgo.Client {
	t.Helper()
	lz4, err := kafkax.Compressor("lz4") // the agent's: 256 KiB blocks
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(testkit.KafkaAddr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.WithCompressor(lz4),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerLinger(10*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	return cl
}

// createTopic creates topic with n partitions and deletes it, and every
// index it was written to, when the test ends.
func createTopic(t testing.TB, topic string, n int32) {
	t.Helper()
	cl := newKafkaClient(t)
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), n, 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		cl := newKafkaClient(t)
		kadm.NewClient(cl).DeleteTopics(context.Background(), topic)
		cl.Close()
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
	cl := newKafkaClient(t)
	defer cl.Close()
	encs := make([]*event.Encoder, parts)
	for i := range encs {
		encs[i] = event.NewEncoder(event.Source{Host: fmt.Sprintf("p%d", i), AgentID: "bench-agent", Path: "/var/log/app.log", FileID: fmt.Sprintf("%s:%d", topic, i)})
	}
	produceWith(t, cl, topic, parts, from, n, encs)
}

// newBenchEncoder is the encoder of one partition's events, as produce
// makes them.
func newBenchEncoder(topic string) *event.Encoder {
	return event.NewEncoder(event.Source{Host: "p0", AgentID: "bench-agent", Path: "/var/log/app.log", FileID: topic + ":0"})
}

// produceWith sends events from..from+n-1 as produce does, through cl (a
// newKafkaClient), 5,000 at a time, each batch waited for. Event i must
// land at offset i/parts of its partition: any other offset (the topic was
// not fresh) fails t.
func produceWith(t testing.TB, cl *kgo.Client, topic string, parts int32, from, n int, encs []*event.Encoder) {
	t.Helper()
	read := time.Now()
	const chunk = 5000
	for start := from; start < from+n; start += chunk {
		var recs []*kgo.Record
		var want []int64
		for i := start; i < min(start+chunk, from+n); i++ {
			part := int32(i % int(parts))
			off := int64(i / int(parts))
			v := encs[part].Encode(fmt.Appendf(nil, lineText, i), off, read, 0)
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: v})
			want = append(want, off)
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		for i, r := range recs {
			if r.Offset != want[i] {
				t.Fatalf("%s/%d: event went to offset %d, want %d (is the topic fresh?)", topic, r.Partition, r.Offset, want[i])
			}
		}
	}
}

// committed returns the group's committed offset of each partition (-1:
// none).
func committed(t testing.TB, group, topic string, parts int32) []int64 {
	t.Helper()
	cl := newKafkaClient(t)
	defer cl.Close()
	r, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatalf("offsets of group %s: %v", group, err)
	}
	out := make([]int64, parts)
	for i := range out {
		out[i] = -1
		if o, ok := r.Lookup(topic, int32(i)); ok {
			if o.Err != nil {
				t.Fatalf("offset of group %s on %s/%d: %v", group, topic, i, o.Err)
			}
			out[i] = o.At
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
	go func() { done <- Run(ctx, cfg, nil, nil, nil) }()
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
