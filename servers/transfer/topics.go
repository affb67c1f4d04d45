package transfer

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/sirupsen/logrus"

	"brun/servers/job"
)

// consume runs consumer-group sessions until ctx ends, joining again with
// the new topic list whenever it changes. A change ends the session like a
// rebalance does: nothing in flight is lost (see handler.Cleanup).
func consume(ctx context.Context, g sarama.ConsumerGroup, topics *topicSet, h sarama.ConsumerGroupHandler, log *logrus.Entry) {
	for ctx.Err() == nil {
		list, changed := topics.get()
		if len(list) == 0 {
			log.Info("no topic to consume yet (no job in etcd names one)")
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				log.Infof("topics changed; joining again")
				cancel()
			case <-sctx.Done():
			}
		}()
		log.WithField("topics", list).Info("joining consumer group")
		err := g.Consume(sctx, list, h)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warnf("consume %v: %v; joining again", list, err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
		}
	}
}

// topicSet is the list of topics to consume, which the etcd mirror may
// change at any time.
type topicSet struct {
	mu      sync.Mutex
	list    []string
	changed chan struct{} // closed and replaced on each change
}

func newTopicSet(initial []string) *topicSet {
	return &topicSet{list: sortedUnique(initial), changed: make(chan struct{})}
}

// get returns the current list and a channel closed at its next change.
func (t *topicSet) get() ([]string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.list, t.changed
}

// set replaces the list; an equal list is not a change.
func (t *topicSet) set(list []string) {
	list = sortedUnique(list)
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Equal(list, t.list) {
		return
	}
	t.list = list
	close(t.changed)
	t.changed = make(chan struct{})
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}

// jobTopics returns the topics named by the valid jobs among kv.
func jobTopics(kv map[string][]byte) []string {
	var out []string
	for _, v := range kv {
		if spec, err := job.Parse(v); err == nil {
			out = append(out, spec.Topic)
		}
	}
	return out
}
