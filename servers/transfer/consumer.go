package transfer

import (
	"context"
	"time"

	"github.com/IBM/sarama"

	"brun/servers/ack"
)

// maxUnackedPerPartition bounds the documents of one partition read and
// not yet stored; a partition at the bound waits.
const maxUnackedPerPartition = 64 << 10

// handler is the sarama consumer-group handler: each claimed partition's
// messages become documents on the shared channel, tracked by a window
// whose contiguous watermark is the only offset ever marked.
type handler struct {
	out chan<- *document
}

// Setup is called by sarama at the start of each session.
func (h *handler) Setup(sarama.ConsumerGroupSession) error { return nil }

// Cleanup is called by sarama at the end of each session, before the
// marked offsets are committed.
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim feeds one partition until the session ends (a rebalance or
// shutdown). Documents still in flight then may complete later; their
// marks on the ended session are not committed, and the partition's next
// owner reads them again (same ids: overwritten, not duplicated).
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	acks := &partitionAcks{
		sess: sess, topic: claim.Topic(), partition: claim.Partition(),
		win: ack.NewWindow(maxUnackedPerPartition, claim.InitialOffset()),
	}
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !h.forward(ctx, acks, msg) {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func (h *handler) forward(ctx context.Context, acks *partitionAcks, msg *sarama.ConsumerMessage) bool {
	d := newDocument(msg, time.Now())
	tk, err := acks.win.Add(ctx, msg.Offset+1)
	if err != nil {
		return false
	}
	d.acks, d.ticket = acks, tk
	select {
	case h.out <- d:
		return true
	case <-ctx.Done():
		return false
	}
}

func consumerConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = sarama.V3_0_0_0
	c.Consumer.Return.Errors = true
	// A new group starts at the oldest record: lines produced before the
	// transfer first ran are not skipped.
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 500 * time.Millisecond
	return c
}
