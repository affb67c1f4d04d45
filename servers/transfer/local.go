package transfer

import (
	"context"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/retry"
	"brun/servers/filestore"
	"brun/servers/handoff"
	"brun/servers/indexname"
)

// This file holds the transfer's two stand-ins: events handed over in
// process instead of consumed from Kafka (kafka.endpoints empty), and
// local NDJSON files instead of Elasticsearch (es.endpoints empty). Both
// keep the acknowledgement chain: an event is acked, and its file offset
// may advance, only once its document is stored.

// consumeHandoff turns the events the agent hands over into documents
// until the agent closes the queue, which it does only after its last
// event (so unlike the Kafka consumer, it does not stop when the transfer
// is told to: the agent stops first and the transfer stores what it got).
// Each topic is one stream; the offsets of its documents count the events
// of this run, for dead letters and logs.
func consumeHandoff(q *handoff.Queue, out chan<- *document, pattern *indexname.Pattern, log *logrus.Entry) {
	log.Info("kafka.endpoints is empty: taking events from the agent in this process")
	type stream struct {
		p   *partition
		seq int64 // events of the topic taken so far
	}
	streams := map[string]*stream{}
	for m := range q.Messages() {
		topic, value := m.Event()
		s := streams[topic]
		if s == nil {
			s = &stream{p: newPartition(topic, -1, pattern)}
			streams[topic] = s
		}
		out <- &document{raw: value, offset: s.seq, seen: time.Now(), part: s.p, done: func() { q.Ack(m) }}
		s.seq++
	}
}

// localDoc is d as the file store takes it: its index, its id and its
// source, exactly what the _bulk request would carry.
func (d *document) localDoc() filestore.Doc {
	id := string(d.entry[d.idAt : d.src-3]) // the JSON string before `}}\n`
	if s, err := strconv.Unquote(id); err == nil {
		id = s
	}
	return filestore.Doc{Index: d.indexName, ID: id, Source: d.entry[d.src : len(d.entry)-1]}
}

// fileSink is the writer's sink when es.endpoints is empty: the local
// NDJSON files (package filestore), written by one writer.
type fileSink struct {
	store *filestore.Store
	cfg   writerConfig
	log   *logrus.Entry
	now   func() time.Time
}

// write stores batch in the local files, retrying with backoff while the
// disk refuses (full, read-only), and completes each document once it is
// stored. Until then this writer takes nothing new: the channel fills and
// the agent's readers wait.
func (s *fileSink) write(ctx context.Context, batch []*document) {
	docs := make([]filestore.Doc, len(batch))
	for i, d := range batch {
		docs[i] = d.localDoc()
	}
	err := retry.Do(ctx, s.cfg.backoff, func() error {
		skipped, err := s.store.Write(docs, s.now())
		if err == nil && skipped > 0 {
			s.log.Debugf("skipped %d document(s) already written (a replay)", skipped)
		}
		return err
	}, func(err error, attempt int) {
		s.log.Warnf("writing %d document(s) to local files failed (attempt %d), retrying: %v", len(docs), attempt, err)
	})
	if err != nil {
		return // ctx ended: the batch stays unacked
	}
	for _, d := range batch {
		finish(d)
	}
}
