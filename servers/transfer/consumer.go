package transfer

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/kafkax"
	"brun/base/metrics"
	"brun/servers/indexname"
)

const (
	// maxUnackedPerPartition bounds the documents of one partition read
	// and not yet stored; a partition at the bound waits. In practice the
	// shared channel (es.chanSize) fills first.
	maxUnackedPerPartition = 64 << 10
	// rebalanceDrain is how long, when a session ends, the handler waits
	// for the documents already consumed to be stored, so that their
	// offsets are in the commit and the partition's next owner does not
	// read them again. Past it the session ends anyway: nothing is lost,
	// the rest is read again (and overwritten, same _id).
	rebalanceDrain = 5 * time.Second
)

// handler is the sarama consumer-group handler: each claimed partition's
// messages become documents on the shared channel, tracked by a window
// whose contiguous watermark is the only offset ever marked.
type handler struct {
	out     chan<- *document
	pattern *indexname.Pattern
	log     *logrus.Entry

	mu    sync.Mutex
	parts map[*partition]struct{} // claimed in the current session
}

// Setup is called by sarama at the start of each session, before any
// ConsumeClaim.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	h.log.WithField("claims", sess.Claims()).Info("consumer group session started")
	return nil
}

// Cleanup is called by sarama once every ConsumeClaim of the session has
// returned, before the marked offsets are committed: it gives the
// documents in flight up to rebalanceDrain to be stored.
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	parts := h.parts
	h.parts = nil
	h.mu.Unlock()
	deadline := time.Now().Add(rebalanceDrain)
	for p := range parts {
		for p.win.InFlight() > p.abandoned && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// ConsumeClaim feeds one partition until the session ends (a rebalance or
// shutdown). Documents still in flight then may complete later; their
// marks on the ended session are not committed, and the partition's next
// owner reads them again (same ids: overwritten, not duplicated).
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	topic, id := claim.Topic(), claim.Partition()
	p := newPartition(topic, id, claim.InitialOffset(), h.pattern, func(off int64) {
		sess.MarkOffset(topic, id, off, "")
	})
	h.mu.Lock()
	if h.parts == nil {
		h.parts = map[*partition]struct{}{}
	}
	h.parts[p] = struct{}{}
	h.mu.Unlock()
	lag := metrics.ConsumerLag.WithLabelValues(topic, strconv.Itoa(int(id)))
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			lag.Set(float64(claim.HighWaterMarkOffset() - msg.Offset - 1))
			d := &document{raw: msg.Value, offset: msg.Offset, kafkaTime: msg.Timestamp, seen: time.Now(), part: p}
			tk, err := p.win.Add(ctx, msg.Offset+1)
			if err != nil {
				return nil
			}
			d.ticket = tk
			select {
			case h.out <- d:
			case <-ctx.Done():
				// Never handed on, so never completed: marking it here would
				// be committed when the session ends, without it stored.
				p.abandoned = 1
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// consumerConfig is sarama's configuration for the transfer. Buffers are
// sized for many small records: sarama's defaults (256 messages a
// partition in channels, fetches up to 100 MB) held over 300 MB for a
// million small messages, while the documents channel already buffers.
func consumerConfig(cfg *config.Config) (*sarama.Config, error) {
	c, err := kafkax.Config(cfg.Kafka, "brun-transfer")
	if err != nil {
		return nil, err
	}
	c.Consumer.Return.Errors = true
	// A new group starts at the oldest record: lines produced before the
	// transfer first ran are not skipped.
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	c.ChannelBufferSize = 256
	c.Consumer.Fetch.Min = 1
	c.Consumer.Fetch.Default = 512 << 10
	c.Consumer.MaxWaitTime = 250 * time.Millisecond
	c.Consumer.MaxProcessingTime = time.Second
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 500 * time.Millisecond
	return c, nil
}

// connect joins Kafka, waiting as long as it takes; nil when ctx ended.
func connect(ctx context.Context, cfg *config.Config, sc *sarama.Config, log *logrus.Entry) sarama.ConsumerGroup {
	backoff := time.Second
	var lastErr string
	for {
		g, err := sarama.NewConsumerGroup(cfg.Kafka.Endpoints, cfg.Transfer.Group, sc)
		if err == nil {
			go func() {
				for err := range g.Errors() {
					log.Warnf("consumer group %s: %v", cfg.Transfer.Group, err)
				}
			}()
			return g
		}
		if err.Error() != lastErr {
			log.Warnf("kafka.endpoints: can't reach kafka %v, retrying: %v", cfg.Kafka.Endpoints, err)
			lastErr = err.Error()
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
