package transfer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/config"
	"brun/servers/indexname"
)

// Unit tests of the consumer against kfake, an in-process Kafka-protocol
// broker; the integration tests run it against a real Kafka with
// Elasticsearch behind it.

// groupRig is a kfake cluster with one topic of parts partitions, n
// records produced to it, and the consumers of one group reading it.
type groupRig struct {
	t       *testing.T
	cluster *kfake.Cluster
	cfg     *config.Config
	topic   string
	parts   int32
	n       int
}

func newGroupRig(t *testing.T, parts int32, n int) *groupRig {
	t.Helper()
	const topic = "app"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: fmt.Appendf(nil, `{"message":"line %d"}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Kafka.Endpoints = cluster.ListenAddrs()
	c.Transfer.Group = "transfer"
	return &groupRig{t: t, cluster: cluster, cfg: &c, topic: topic, parts: parts, n: n}
}

// member is one consumer of the group, run until its stop is called.
type member struct {
	c    *consumer
	docs chan *document
	stop func()
}

func (r *groupRig) join(name string) *member {
	pattern, err := indexname.Parse(r.cfg.ES.Index)
	if err != nil {
		r.t.Fatal(err)
	}
	docs := make(chan *document, 64)
	log := logrus.New().WithField("member", name)
	log.Logger.SetLevel(logrus.WarnLevel)
	c := &consumer{cfg: r.cfg, out: docs, pattern: pattern, log: log}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); c.run(ctx, newTopicSet([]string{r.topic})) }()
	var once sync.Once
	m := &member{c: c, docs: docs}
	m.stop = func() { once.Do(func() { cancel(); <-ran; c.close() }) }
	r.t.Cleanup(m.stop)
	return m
}

// committed returns the group's committed offset of each partition; it
// may be called from any goroutine (an error fails the test, not at once).
func (r *groupRig) committed() map[int32]int64 {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cluster.ListenAddrs()...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), r.cfg.Transfer.Group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]int64{} // the group has not started yet
	}
	if err != nil {
		r.t.Error(err)
		return map[int32]int64{}
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

// stored is what the writers stored: each document of each partition.
type stored struct {
	mu   sync.Mutex
	seen map[[2]int64]int // partition, offset → times stored
}

func (s *stored) add(d *document) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[[2]int64]int{}
	}
	s.seen[[2]int64{int64(d.part.id), d.offset}]++
}

// has reports whether every offset below upto of partition p is stored.
func (s *stored) has(p int32, upto int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for off := range upto {
		if s.seen[[2]int64{int64(p), off}] == 0 {
			return false
		}
	}
	return true
}

// Two members of one group share the partitions; the second joins mid-way
// and the first leaves: every record is stored, and no commit ever names
// an offset past a document not yet stored, though documents finish out
// of order.
func TestConsumerCommitsOnlyStoredDocumentsThroughRebalances(t *testing.T) {
	r := newGroupRig(t, 4, 20000)
	var st stored
	// A writer finishes documents late and out of order: it holds some
	// back and completes them after later ones.
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) }) // after the members stopped
	write := func(m *member) {
		var held []*document
		flush := func() {
			for _, h := range held {
				st.add(h)
				h.done()
			}
			held = held[:0]
		}
		for {
			select {
			case d := <-m.docs:
				if rand.IntN(4) == 0 {
					held = append(held, d)
					continue
				}
				st.add(d)
				d.done()
				if len(held) > 8 {
					flush()
				}
				time.Sleep(200 * time.Microsecond) // slow enough that the rebalance comes mid-stream
			case <-time.After(50 * time.Millisecond):
				flush()
			case <-quit:
				return
			}
		}
	}

	// Commits are checked against what is stored while the group runs.
	checkDone := make(chan struct{})
	stopCheck := make(chan struct{})
	go func() {
		defer close(checkDone)
		for {
			select {
			case <-stopCheck:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for p, off := range r.committed() {
				if !st.has(p, off) {
					t.Errorf("partition %d committed at %d, past a document not yet stored", p, off)
					return
				}
			}
		}
	}()

	a := r.join("a")
	go write(a)
	waitUntil(t, 30*time.Second, "a's first commits", func() bool { return len(r.committed()) > 0 })
	b := r.join("b")
	go write(b)
	waitUntil(t, 30*time.Second, "the rebalance to give b partitions", func() bool {
		b.c.mu.Lock()
		defer b.c.mu.Unlock()
		return len(b.c.parts) > 0
	})
	if sum := sumOf(r.committed()); sum >= int64(r.n) {
		t.Fatalf("all %d records were committed before b joined: the test did not rebalance mid-stream", sum)
	}
	a.stop()
	waitUntil(t, 60*time.Second, "every record committed", func() bool {
		return sumOf(r.committed()) == int64(r.n)
	})
	close(stopCheck)
	<-checkDone
	for p := range r.parts {
		if !st.has(p, int64(r.n)/int64(r.parts)) {
			t.Errorf("partition %d: a record was never stored", p)
		}
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sumOf(offsets map[int32]int64) int64 {
	var sum int64
	for _, off := range offsets {
		sum += off
	}
	return sum
}

// franz-go reports a group's errors (joining it, its coordinator gone) as
// a fetch error with no topic: they are named as the group's, not as a
// fetch of partition 0 of "".
func TestFetchErrorNamesTheGroup(t *testing.T) {
	err := errors.New("unable to join group session: unable to dial")
	if got := fetchError("", 0, err); got != "consumer group: unable to join group session: unable to dial (retrying)" {
		t.Errorf("group error: %q", got)
	}
	if got := fetchError("app", 3, err); got != "fetch app/3: unable to join group session: unable to dial (retrying)" {
		t.Errorf("fetch error: %q", got)
	}
}
