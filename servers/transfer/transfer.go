package transfer

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/servers/job"
)

// drainTimeout is how long, at shutdown, the writers may keep writing what
// was already consumed before they give up (it is then read again).
const drainTimeout = 10 * time.Second

// Run runs the transfer role until ctx ends: it consumes the topics into
// the document channel and writes them to Elasticsearch. At shutdown it
// stops consuming first, lets the writers finish, then commits.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	log := logging.For("transfer")
	es, err := newES(cfg.ES)
	if err != nil {
		return err
	}
	docs := make(chan *document, cfg.ES.ChanSize)

	// Writers run on their own context: they outlive the consumers.
	writeCtx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	var writers sync.WaitGroup
	for i := 0; i < cfg.ES.Nums; i++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			(&bulkWriter{es: es, in: docs, log: logging.For("bulk")}).run(writeCtx)
		}()
	}

	topics := newTopicSet(cfg.Transfer.Topics)
	if len(cfg.Transfer.Topics) == 0 {
		keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
		go etcdx.Mirror(ctx, cli, keys.AllJobs(), cfg.Etcd.DialTimeout, log, func(kv map[string][]byte) {
			topics.set(jobTopics(kv))
		})
	}

	group := connect(ctx, cfg, log)
	if group != nil {
		consume(ctx, group, topics, &handler{out: docs}, log)
	}

	// Consumers have returned: no one sends on docs any more.
	close(docs)
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		log.Warn("writers did not finish in time; unwritten documents will be read again from kafka")
		stopWriters()
		<-done
	}
	if group != nil {
		if err := group.Close(); err != nil {
			log.Warnf("closing consumer group: %v", err)
		}
	}
	log.Info("transfer stopped")
	return nil
}

// connect joins Kafka, waiting as long as it takes; nil when ctx ended.
func connect(ctx context.Context, cfg *config.Config, log *logrus.Entry) sarama.ConsumerGroup {
	backoff := time.Second
	var lastErr string
	for {
		g, err := sarama.NewConsumerGroup(cfg.Kafka.Endpoints, cfg.Transfer.Group, consumerConfig("brun-transfer"))
		if err == nil {
			go func() {
				for err := range g.Errors() {
					log.Warnf("consumer group: %v", err)
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

// consume runs consumer-group sessions until ctx ends, joining again with
// the new topic list whenever it changes.
func consume(ctx context.Context, g sarama.ConsumerGroup, topics *topicSet, h sarama.ConsumerGroupHandler, log *logrus.Entry) {
	for ctx.Err() == nil {
		list, changed := topics.get()
		if len(list) == 0 {
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
		log.WithField("topics", list).Debug("joining consumer group")
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

func (t *topicSet) get() ([]string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.list, t.changed
}

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

func newES(c config.ES) (*elasticsearch.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.MaxIdleConnsPerHost = c.Nums + 2
	return elasticsearch.NewClient(elasticsearch.Config{
		Addresses: c.Endpoints,
		Transport: tr,
		// brun retries failed bulks itself, with backoff, item by item.
		DisableRetry: true,
	})
}
