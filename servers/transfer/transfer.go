package transfer

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/metrics"
)

// drainTimeout is how long, at shutdown, the writers may keep writing what
// was already consumed before they give up (it is then read again).
const drainTimeout = 10 * time.Second

// Run runs the transfer role until ctx ends: it consumes the topics into
// the document channel and writes them to Elasticsearch. Sinks first:
// the writers start, and wait until Elasticsearch is ready and brun's
// index templates are installed; consumption starts at once and fills the
// bounded channel meanwhile. At shutdown it stops consuming first, lets
// the writers finish (up to drainTimeout), then commits.
//
// It returns an error only for a configuration it can't use (es.index,
// TLS files); unreachable servers are waited for, never fatal. cli may be
// nil when transfer.topics is set.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	log := logging.For("transfer")
	pattern, err := parseIndexPattern(cfg.ES.Index)
	if err != nil {
		return err
	}
	es, err := newES(cfg.ES)
	if err != nil {
		return err
	}
	sc, err := consumerConfig(cfg)
	if err != nil {
		return err
	}
	docs := make(chan *document, cfg.ES.ChanSize)

	// Writers run on their own context: they outlive the consumers.
	writeCtx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	ready := make(chan struct{})
	go func() {
		if setupES(writeCtx, es, cfg.ES, pattern, logging.For("elasticsearch")) == nil {
			close(ready)
		}
	}()
	var writers sync.WaitGroup
	wc := newWriterConfig(cfg.ES)
	for i := 0; i < cfg.ES.Nums; i++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			w := &bulkWriter{es: es, in: docs, cfg: wc, log: logging.For("bulk"), ready: ready, now: time.Now}
			w.run(writeCtx)
		}()
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				metrics.DocQueue.Set(float64(len(docs)))
			case <-writeCtx.Done():
				return
			}
		}
	}()

	topics := newTopicSet(cfg.Transfer.Topics)
	if len(cfg.Transfer.Topics) == 0 {
		keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
		go etcdx.Mirror(ctx, cli, keys.AllJobs(), cfg.Etcd.DialTimeout, log, func(kv map[string][]byte) {
			topics.set(jobTopics(kv))
		})
	}

	group := connect(ctx, cfg, sc, log)
	if group != nil {
		consume(ctx, group, topics, &handler{out: docs, pattern: pattern, log: log}, log)
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
			log.Warnf("closing consumer group %s: %v", cfg.Transfer.Group, err)
		}
	}
	log.Info("transfer stopped")
	return nil
}
