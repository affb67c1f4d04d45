package transfer

import (
	"context"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

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
	parts := map[string]*partition{}
	for m := range q.Messages() {
		topic, value := m.Event()
		p := parts[topic]
		if p == nil {
			p = newHandoffStream(topic, pattern, q)
			parts[topic] = p
		}
		out <- &document{raw: value, offset: p.seq, seen: time.Now(), part: p, msg: m}
		p.seq++
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

// writeLocal stores batch in the local files, retrying with backoff while
// the disk refuses (full, read-only), and completes each document once it
// is stored. Until then this writer takes nothing new: the channel fills
// and the agent's readers wait.
func (w *bulkWriter) writeLocal(ctx context.Context, batch []*document) {
	docs := make([]filestore.Doc, len(batch))
	for i, d := range batch {
		docs[i] = d.localDoc()
	}
	backoff := w.cfg.minBackoff
	for attempt := 1; ; attempt++ {
		skipped, err := w.store.Write(docs, w.now())
		if err == nil {
			if skipped > 0 {
				w.log.Debugf("skipped %d document(s) already written (a replay)", skipped)
			}
			break
		}
		if attempt == 1 || attempt%10 == 0 {
			w.log.Warnf("writing %d document(s) to local files failed (attempt %d), retrying: %v", len(docs), attempt, err)
		}
		if !w.backoff(ctx, &backoff) {
			return
		}
	}
	for _, d := range batch {
		w.stored(d)
	}
}
