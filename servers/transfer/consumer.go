package transfer

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"brun/base/config"
	"brun/base/kafkax"
	"brun/base/metrics"
	"brun/base/retry"
	"brun/servers/ack"
	"brun/servers/indexname"
)

const (
	// maxUnackedPerPartition bounds the documents of one partition read
	// and not yet stored; a partition at the bound waits. In practice the
	// shared channel (es.chanSize) fills first.
	maxUnackedPerPartition = 64 << 10
	// rebalanceDrain is how long, when partitions are taken away (a
	// rebalance, a change of topics, shutdown), the consumer waits for
	// their documents already consumed to be stored, so that their offsets
	// are in the last commit and the partitions' next owner does not read
	// them again. Past it they are given up anyway: nothing is lost, the
	// rest is read again (and overwritten, same _id).
	rebalanceDrain = 5 * time.Second
	// commitEvery is how often the watermarks that moved are committed.
	commitEvery = time.Second
	// pollRecords bounds the records taken from franz-go at a time.
	pollRecords = 4096
)

// consumer reads the transfer's topics in the consumer group
// transfer.group with franz-go. Each assigned partition's records become
// documents on the shared channel, tracked by a window whose contiguous
// watermark is the only offset ever committed: an offset is committed only
// once Elasticsearch stored every document before it.
type consumer struct {
	cfg     *config.Config
	out     chan<- *document
	pattern *indexname.Pattern
	log     *logrus.Entry

	cl *kgo.Client // of the current topic list; nil between lists

	mu    sync.Mutex
	parts map[topicPartition]*claim // assigned to this member now
}

type topicPartition struct {
	topic string
	id    int32
}

// claim is one assigned partition: its documents' window, where its
// commits are, and whether it was taken away.
type claim struct {
	p *partition
	// win tracks the partition's documents in flight; its contiguous
	// watermark is the offset committed. It starts at the offset of the
	// first record fetched: set once by the polling goroutine (then
	// started is set), read by the commits.
	win       *ack.Window
	started   atomic.Bool
	next      int64        // the offset after the last record handed on; the polling goroutine's
	committed atomic.Int64 // the last offset committed (-1: none by this member)
	gone      chan struct{}
	goneOnce  sync.Once
	revoked   atomic.Bool  // gone is closed: what handOn looks at per record
	abandoned atomic.Int64 // documents added to the window and never handed on
	// progress is signalled when a document is done or abandoned: a
	// revoke waits on it for the partition's documents in flight.
	progress chan struct{}
}

func newClaim(p *partition) *claim {
	cm := &claim{p: p, gone: make(chan struct{}), progress: make(chan struct{}, 1)}
	cm.committed.Store(-1)
	return cm
}

func (c *claim) revoke() {
	c.goneOnce.Do(func() {
		c.revoked.Store(true)
		close(c.gone)
	})
}

// document returns r as a document whose done finishes its place t in
// the window.
func (c *claim) document(r *kgo.Record, t ack.Ticket, seen time.Time) *document {
	return &document{raw: r.Value, offset: r.Offset, kafkaTime: r.Timestamp, seen: seen, part: c.p,
		done: func() { c.win.Done(t); c.signal() }}
}

func (c *claim) signal() {
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

// drain waits until every document handed on is done, or until deadline.
func (c *claim) drain(deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for c.started.Load() && int64(c.win.InFlight()) > c.abandoned.Load() {
		select {
		case <-c.progress:
		case <-t.C:
			return
		}
	}
}

// run consumes the topics of topics until ctx ends, joining again with the
// new list whenever it changes. A change takes the partitions away like a
// rebalance does: what was stored is committed first. At return the last
// client is still open: Run commits what the writers finished and then
// calls close.
func (c *consumer) run(ctx context.Context, topics *topicSet) {
	for ctx.Err() == nil {
		list, changed := topics.get()
		if len(list) == 0 {
			c.log.Info("no topic to consume yet (no job in etcd names one)")
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		if !c.open(ctx, list) {
			return
		}
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				c.log.Infof("topics changed; joining again")
				cancel()
			case <-sctx.Done():
			}
		}()
		c.log.WithField("topics", list).Info("joining consumer group")
		commits := make(chan struct{})
		go func() { defer close(commits); c.commitLoop(sctx) }()
		c.poll(sctx)
		cancel()
		<-commits
		if ctx.Err() == nil {
			c.close() // the topics changed: leave, committing what is stored
		}
	}
}

// open creates the client of one topic list; false if ctx ended first
// (the options are checked before, so only TLS files can fail here, and
// they are retried).
func (c *consumer) open(ctx context.Context, topics []string) bool {
	return retry.Do(ctx, retry.Backoff{Min: time.Second, Max: 10 * time.Second}, func() error {
		opts, err := consumerOptions(c.cfg, topics)
		if err != nil {
			return err
		}
		opts = append(opts,
			kgo.OnPartitionsAssigned(c.assigned),
			kgo.OnPartitionsRevoked(c.revoked),
			kgo.OnPartitionsLost(c.lost),
		)
		c.cl, err = kgo.NewClient(opts...)
		return err
	}, func(err error, _ int) { c.log.Errorf("kafka: %v; trying again", err) }) == nil
}

// consumerOptions are franz-go's options for the transfer: the group,
// cooperative rebalancing, commits only of what brun says, a new group
// from the oldest record. Fetches are small and one at a time: a fetch
// buffered in franz-go is held decompressed (four to five times its size
// for JSON logs), and the documents channel already buffers; larger or
// more fetches bought no measurable speed (doc/benchmarks.md).
func consumerOptions(cfg *config.Config, topics []string) ([]kgo.Opt, error) {
	opts, err := kafkax.Options(cfg.Kafka, "brun-transfer")
	if err != nil {
		return nil, err
	}
	return append(opts,
		kgo.ConsumerGroup(cfg.Transfer.Group),
		kgo.SessionTimeout(cfg.Transfer.SessionTimeout),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		// A new group starts at the oldest record: lines produced before
		// the transfer first ran are not skipped.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(1<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.MaxConcurrentFetches(1),
	), nil
}

// assigned is franz-go's callback for partitions given to this member.
func (c *consumer) assigned(_ context.Context, _ *kgo.Client, got map[string][]int32) {
	if len(got) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts == nil {
		c.parts = map[topicPartition]*claim{}
	}
	for topic, ids := range got {
		for _, id := range ids {
			c.parts[topicPartition{topic, id}] = newClaim(newPartition(topic, id, c.pattern))
		}
	}
	c.log.WithField("partitions", got).Info("partitions assigned")
}

// revoked is franz-go's callback for partitions taken away in a
// rebalance, and for all of them at close: their documents in flight get
// up to rebalanceDrain to be stored, then what is stored is committed.
// The rest is read again by the next owner.
func (c *consumer) revoked(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	gone := c.take(lost)
	deadline := time.Now().Add(rebalanceDrain)
	for _, cm := range gone {
		cm.drain(deadline)
	}
	c.commit(ctx, cl, gone)
	c.log.WithField("partitions", lost).Info("partitions revoked")
}

// lost is franz-go's callback for partitions this member lost without a
// rebalance (its session expired): nothing can be committed for them.
func (c *consumer) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.take(lost)
	c.log.WithField("partitions", lost).Warn("partitions lost (the group's session expired); their next owner reads what was not committed")
}

// take removes the partitions from the member's claims and stops handing
// on their records.
func (c *consumer) take(ps map[string][]int32) []*claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*claim
	for topic, ids := range ps {
		for _, id := range ids {
			tp := topicPartition{topic, id}
			if cm := c.parts[tp]; cm != nil {
				cm.revoke()
				out = append(out, cm)
				delete(c.parts, tp)
			}
		}
	}
	return out
}

// poll hands records on as documents until ctx ends.
func (c *consumer) poll(ctx context.Context) {
	var lastErr string
	var lastLog time.Time
	for ctx.Err() == nil {
		fetches := c.cl.PollRecords(ctx, pollRecords)
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != lastErr || time.Since(lastLog) > time.Minute {
				c.log.WithField("topic", topic).Warn(fetchError(topic, part, err))
				lastErr, lastLog = err.Error(), time.Now()
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 && ctx.Err() == nil {
				c.handOn(ctx, fp)
			}
		})
	}
}

// fetchError says what a poll's error is about: a partition's fetch, or,
// for the errors franz-go reports with no topic (joining the group, the
// client), the consumer group.
func fetchError(topic string, part int32, err error) string {
	if topic == "" {
		return fmt.Sprintf("consumer group: %v (retrying)", err)
	}
	return fmt.Sprintf("fetch %s/%d: %v (retrying)", topic, part, err)
}

// handOn puts one partition's fetched records on the documents channel.
// Records of a partition no longer assigned are dropped: not handed on,
// so not committed; their next owner reads them.
func (c *consumer) handOn(ctx context.Context, fp kgo.FetchTopicPartition) {
	c.mu.Lock()
	cm := c.parts[topicPartition{fp.Topic, fp.Partition}]
	c.mu.Unlock()
	if cm == nil {
		return
	}
	lag := metrics.ConsumerLag.WithLabelValues(fp.Topic, strconv.Itoa(int(fp.Partition)))
	now := time.Now()
	for _, r := range fp.Records {
		if cm.revoked.Load() {
			return // taken away: its next owner reads the rest
		}
		started := cm.started.Load()
		if started && r.Offset < cm.next {
			continue // fetched again before this claim: already handed on
		}
		if !started {
			cm.win = ack.NewWindow(maxUnackedPerPartition, r.Offset)
			cm.started.Store(true)
		}
		tk, err := cm.win.Add(ctx, r.Offset+1)
		if err != nil {
			return
		}
		d := cm.document(r, tk, now)
		select {
		case c.out <- d: // the common case, without the full select
			cm.next = r.Offset + 1
			continue
		default:
		}
		select {
		case c.out <- d:
			cm.next = r.Offset + 1
		case <-ctx.Done():
			cm.abandoned.Add(1) // never handed on, so never done
			cm.signal()
			return
		case <-cm.gone:
			cm.abandoned.Add(1)
			cm.signal()
			return
		}
	}
	lag.Set(float64(fp.HighWatermark - cm.next))
}

// commitLoop commits the watermarks that moved every commitEvery until
// ctx ends.
func (c *consumer) commitLoop(ctx context.Context) {
	t := time.NewTicker(commitEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.mu.Lock()
			var claims []*claim
			for _, cm := range c.parts {
				claims = append(claims, cm)
			}
			c.mu.Unlock()
			c.commit(ctx, c.cl, claims)
		case <-ctx.Done():
			return
		}
	}
}

// commit commits the watermark of each claim that moved since its last
// commit.
func (c *consumer) commit(ctx context.Context, cl *kgo.Client, claims []*claim) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	moved := map[*claim]int64{}
	for _, cm := range claims {
		if !cm.started.Load() {
			continue
		}
		wm := cm.win.Watermark()
		if wm <= cm.committed.Load() {
			continue
		}
		if offsets[cm.p.topic] == nil {
			offsets[cm.p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[cm.p.topic][cm.p.id] = kgo.EpochOffset{Epoch: -1, Offset: wm}
		moved[cm] = wm
	}
	if len(moved) == 0 {
		return
	}
	var failed error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		failed = commitError(resp, err)
	})
	if failed != nil {
		if ctx.Err() == nil {
			c.log.Warnf("commit to consumer group %s: %v (committed again later)", c.cfg.Transfer.Group, failed)
		}
		return
	}
	for cm, wm := range moved {
		cm.committed.Store(wm)
	}
}

// commitError is the request's error or the first partition's.
func commitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil || resp == nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// close gives up every partition, committing what the writers stored,
// and leaves the group. It is safe to call when no client is open.
func (c *consumer) close() {
	if c.cl == nil {
		return
	}
	c.mu.Lock()
	all := map[string][]int32{}
	for tp := range c.parts {
		all[tp.topic] = append(all[tp.topic], tp.id)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c.revoked(ctx, c.cl, all)
	cancel()
	c.cl.Close()
	c.cl = nil
}
