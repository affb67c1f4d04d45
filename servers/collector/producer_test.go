package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"brun/base/config"
)

// Unit tests of the Kafka producer against kfake, an in-process
// Kafka-protocol broker: what a real broker can't be made to show on
// demand (refused produce requests, a broker without auto-creation). The
// integration tests run the same producer against a real Kafka.

// kafkaRig runs a collector whose sink is the Kafka producer, against
// a kfake cluster.
type kafkaRig struct {
	t       *testing.T
	c       *Collector
	cluster *kfake.Cluster
	dir     string
}

func newKafkaRig(t *testing.T, k config.Kafka, opts ...kfake.Opt) *kafkaRig {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	k.Endpoints = cluster.ListenAddrs()
	if k.BatchBytes == 0 {
		k.BatchBytes = 1 << 20
	}
	if k.BatchLinger == 0 {
		k.BatchLinger = 5 * time.Millisecond
	}
	if k.Compression == "" {
		k.Compression = "lz4"
	}
	c, err := New(Config{AgentID: "agent-1", DataDir: t.TempDir(), ChanMsgSize: 64,
		Producer: ProducerConfig{Kafka: k, ClientID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	return &kafkaRig{t: t, c: c, cluster: cluster, dir: t.TempDir()}
}

func (r *kafkaRig) start(name, value string) *Job { return startJob(r.t, r.c, name, value) }

// read returns every record of topic, in each partition's order.
func (r *kafkaRig) read(topic string, want int) []*kgo.Record {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cluster.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(out) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			r.t.Fatalf("read %d of %d records of %s", len(out), want, topic)
		}
		out = append(out, f.Records()...)
	}
	return out
}

// Every line reaches Kafka once, acked only once stored, though the broker
// refuses the first produce requests; a topic the broker does not have
// (and does not create on its own) is created with kafka.partitions.
func TestProducerShipsEveryLineOnceAndCreatesTheTopic(t *testing.T) {
	r := newKafkaRig(t, config.Kafka{Partitions: 3})
	var refused atomic.Int32
	r.cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r.cluster.KeepControl()
		if refused.Load() >= 3 {
			return nil, nil, false
		}
		refused.Add(1)
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	const n = 5000
	var text strings.Builder
	for i := range n {
		fmt.Fprintf(&text, "line %05d of the application log\n", i)
	}
	path := filepath.Join(r.dir, "app.log")
	appendTo(t, path, text.String())
	j := r.start("app", fmt.Sprintf(`{"path": %q, "topic": "app-logs"}`, path))
	waitFor(t, 60*time.Second, "every line acked", func() bool { return j.Status().Acked == n })
	if refused.Load() < 3 {
		t.Fatalf("the broker refused %d produce requests, want 3: the test did not test refusals", refused.Load())
	}

	recs := r.read("app-logs", n)
	if len(recs) != n {
		t.Fatalf("%d records in kafka, want %d", len(recs), n)
	}
	for i, rec := range recs {
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("line %05d of the application log", i); e.Message != want {
			t.Fatalf("record %d is %q, want %q (one file's lines stay in order, once each)", i, e.Message, want)
		}
	}

	adm := kadm.NewClient(kgoClient(t, r.cluster))
	topics, err := adm.ListTopics(context.Background(), "app-logs")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(topics["app-logs"].Partitions); got != 3 {
		t.Errorf("app-logs has %d partitions, want kafka.partitions = 3", got)
	}
}

// An event larger than a batch can hold is cut to fit and flagged
// truncated; the lines around it are shipped whole.
func TestProducerCutsAnEventLargerThanABatch(t *testing.T) {
	r := newKafkaRig(t, config.Kafka{BatchBytes: config.MinBatchBytes}, kfake.AllowAutoTopicCreation())
	path := filepath.Join(r.dir, "big.log")
	big := strings.Repeat(`a "quoted" word `, 32<<10) // 512 KiB, and longer again as JSON
	appendTo(t, path, "before\n"+big+"\nafter\n")
	j := r.start("big", fmt.Sprintf(`{"path": %q, "topic": "big"}`, path))
	waitFor(t, 30*time.Second, "three lines acked", func() bool { return j.Status().Acked == 3 })
	recs := r.read("big", 3)
	var msgs []string
	for _, rec := range recs {
		if len(rec.Value) > config.MinBatchBytes {
			t.Errorf("a record of %d bytes, over kafka.batch.bytes %d", len(rec.Value), config.MinBatchBytes)
		}
		var e struct {
			Message string `json:"message"`
			Log     struct {
				Flags []string `json:"flags"`
			} `json:"log"`
		}
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, e.Message)
		if cut := strings.HasPrefix(e.Message, "a \"quoted\""); cut != (len(e.Log.Flags) == 1 && e.Log.Flags[0] == "truncated") {
			t.Errorf("message %.20q... has flags %v", e.Message, e.Log.Flags)
		}
	}
	if len(msgs) != 3 || msgs[0] != "before" || msgs[2] != "after" {
		t.Fatalf("messages %.40q, want before, the cut line, after", msgs)
	}
	if !strings.HasPrefix(big, msgs[1]) || len(msgs[1]) < config.MinBatchBytes/2 {
		t.Errorf("the cut line is %d bytes, not a prefix of the line or cut far more than needed", len(msgs[1]))
	}
}

func kgoClient(t *testing.T, c *kfake.Cluster) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
