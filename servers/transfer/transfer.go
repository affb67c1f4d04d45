package transfer

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/metrics"
	"brun/servers/filestore"
	"brun/servers/handoff"
	"brun/servers/indexname"
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
// With q (kafka.endpoints empty) it takes the agent's events from q
// instead of Kafka, until the agent closes q. With es.endpoints empty it
// writes to NDJSON files under data.dir/es instead of Elasticsearch, with
// one writer.
//
// It returns an error only for a configuration it can't use (es.index,
// TLS files, the local files' directory); unreachable servers are waited
// for, never fatal. cli may be nil when transfer.topics is set or q is
// given.
//
// Each configuration received on reload (brun read its ini again, at a
// SIGHUP) changes the bulk limits (es.bulk.actions, es.bulk.bytes,
// es.flush.interval) of the running writers. reload may be nil.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client, q *handoff.Queue, reload <-chan *config.Config) error {
	log := logging.For("transfer")
	pattern, err := indexname.Parse(cfg.ES.Index)
	if err != nil {
		return err
	}
	if q == nil {
		// Checked before anything starts: a TLS file brun can't read.
		if _, err := consumerOptions(cfg, nil); err != nil {
			return err
		}
	}
	docs := make(chan *document, cfg.ES.ChanSize)

	// Writers run on their own context: they outlive the consumers.
	writeCtx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	wc := newWriterConfig(cfg.ES)
	writers, err := startWriters(writeCtx, cfg, wc, pattern, docs)
	if err != nil {
		return err
	}
	if reload != nil {
		go func() {
			for {
				select {
				case next := <-reload:
					if wc.limits.set(next.ES) {
						log.Infof("bulk limits are now es.bulk.actions %d, es.bulk.bytes %d, es.flush.interval %v", next.ES.BulkActions, next.ES.BulkBytes, next.ES.FlushInterval)
					}
				case <-writeCtx.Done():
					return
				}
			}
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

	var kc *consumer
	if q != nil {
		consumeHandoff(q, docs, pattern, log)
	} else {
		topics := newTopicSet(cfg.Transfer.Topics)
		if len(cfg.Transfer.Topics) == 0 {
			keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
			go etcdx.Mirror(ctx, cli, keys.AllJobs(), cfg.Etcd.DialTimeout, log, func(kv map[string][]byte) {
				topics.set(jobTopics(kv))
			})
		}
		kc = &consumer{cfg: cfg, out: docs, pattern: pattern, log: log}
		kc.run(ctx, topics)
	}

	// Consumers have returned: no one sends on docs any more.
	close(docs)
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		log.Warn("writers did not finish in time; unwritten documents will be read again")
		stopWriters()
		<-done
	}
	if kc != nil {
		kc.close() // commits what the writers stored, then leaves the group
	}
	log.Info("transfer stopped")
	return nil
}

// startWriters starts the writers that drain docs until it is closed or
// ctx ends: es.nums bulk writers to Elasticsearch, which wait until it is
// ready and the index templates are installed; or, with es.endpoints
// empty, one writer to the local files.
func startWriters(ctx context.Context, cfg *config.Config, wc writerConfig, pattern *indexname.Pattern, docs <-chan *document) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	ready := make(chan struct{})
	if cfg.LocalES() {
		store, err := filestore.Open(cfg.LocalESDir(), cfg.ES.LocalKeep, time.Now(), logging.For("files"))
		if err != nil {
			return nil, err
		}
		close(ready)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer store.Close()
			out := &fileSink{store: store, cfg: wc, log: logging.For("files"), now: time.Now}
			w := &bulkWriter{out: out, in: docs, cfg: wc, ready: ready}
			w.run(ctx)
		}()
		return &wg, nil
	}
	es, err := esx.New(cfg.ES)
	if err != nil {
		return nil, err
	}
	tmpl := newTemplates(es, cfg.ES, pattern, logging.For("elasticsearch"))
	go func() {
		if setupES(ctx, es, cfg.ES, tmpl, logging.For("elasticsearch")) == nil {
			close(ready)
		}
	}()
	if cfg.ES.Retention > 0 && pattern.HasDate() {
		sw := &sweeper{es: es, pattern: pattern, keep: cfg.ES.Retention, log: logging.For("retention")}
		go sw.run(ctx, ready, time.Now)
	}
	for i := 0; i < cfg.ES.Nums; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &esSink{es: es, templates: tmpl, cfg: wc, log: logging.For("bulk"), now: time.Now}
			w := &bulkWriter{out: out, in: docs, cfg: wc, ready: ready}
			w.run(ctx)
		}()
	}
	return &wg, nil
}
