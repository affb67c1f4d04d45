package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/metrics"
	"brun/servers/filestore"
)

const (
	// bulkTimeout bounds one _bulk request; a slower answer is retried.
	bulkTimeout = 60 * time.Second
	// minBackoff and maxBackoff bound the wait before a retry; it doubles
	// from the first to the second with each failed attempt, with full
	// jitter. maxBackoff is also how late, at most, writing resumes after
	// Elasticsearch comes back.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// bulkFilter keeps only what results reads of a _bulk answer: a success
// is then {"index":{"status":201}}, a tenth of the full item.
const bulkFilter = "errors,items.*.status,items.*.error.type,items.*.error.reason"

// writerConfig is what a bulkWriter needs of [es], in its own type so
// tests can shorten the waits.
type writerConfig struct {
	limits     *bulkLimits // es.bulk.actions, es.bulk.bytes, es.flush.interval
	minBackoff time.Duration
	maxBackoff time.Duration
}

func newWriterConfig(c config.ES) writerConfig {
	return writerConfig{limits: newBulkLimits(c), minBackoff: minBackoff, maxBackoff: maxBackoff}
}

// bulkLimits are when a bulk is sent: at actions documents, at bytes, or
// interval after its first document. Every writer reads the same ones, and
// a reload (SIGHUP) changes them while the writers run.
type bulkLimits struct {
	actions, bytes atomic.Int64
	interval       atomic.Int64 // a time.Duration
}

func newBulkLimits(c config.ES) *bulkLimits {
	l := &bulkLimits{}
	l.set(c)
	return l
}

// set takes the limits of c; it reports whether they changed.
func (l *bulkLimits) set(c config.ES) bool {
	changed := l.actions.Swap(int64(c.BulkActions)) != int64(c.BulkActions)
	changed = l.bytes.Swap(int64(c.BulkBytes)) != int64(c.BulkBytes) || changed
	changed = l.interval.Swap(int64(c.FlushInterval)) != int64(c.FlushInterval) || changed
	return changed
}

func (l *bulkLimits) full(docs, size int) bool {
	return int64(docs) >= l.actions.Load() || int64(size) >= l.bytes.Load()
}

func (l *bulkLimits) wait() time.Duration { return time.Duration(l.interval.Load()) }

// bulkWriter is one of es.nums workers: it batches documents from the
// channel and writes them with _bulk until each is stored or, refused for
// good, dead-lettered; or, when es.endpoints is empty, it is the only
// worker and appends them to the local files (local.go). It completes
// each document exactly once.
type bulkWriter struct {
	es    *elasticsearch.Client
	store *filestore.Store // instead of es when es.endpoints is empty
	in    <-chan *document
	cfg   writerConfig
	log   *logrus.Entry
	ready <-chan struct{} // closed once the index templates are installed
	now   func() time.Time
	buf   bytes.Buffer
	b     builder
}

// run writes until in is closed and drained, or ctx ends. Documents not
// written when ctx ends stay unacked: their offsets are not committed, and
// they are read again from Kafka.
//
// It is a two-stage pipeline: this goroutine takes documents and renders
// them into the next batch while a sender goroutine writes the previous
// one, so rendering never keeps Elasticsearch waiting. At most one full
// batch waits for the sender; while the sender retries, run blocks, and so
// do the consumers behind the channel.
func (w *bulkWriter) run(ctx context.Context) {
	select {
	case <-w.ready:
	case <-ctx.Done():
		return
	}
	batches := make(chan []*document)
	free := make(chan []*document, 2)
	free <- make([]*document, 0, w.cfg.limits.actions.Load())
	free <- make([]*document, 0, w.cfg.limits.actions.Load())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for batch := range batches {
			w.write(ctx, batch)
			clear(batch) // let the written documents be collected
			free <- batch[:0]
		}
	}()
	defer func() { close(batches); <-sent }()

	batch := <-free
	size := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() bool {
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				return false
			}
			select {
			case batch = <-free:
			case <-ctx.Done():
				return false
			}
		}
		size = 0
		return true
	}
	for {
		select {
		case d, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(w.cfg.limits.wait())
			}
			w.b.build(d)
			batch = append(batch, d)
			size += len(d.entry)
			if w.cfg.limits.full(len(batch), size) {
				timer.Stop()
				if !flush() {
					return
				}
			}
		case <-timer.C:
			if !flush() {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// write sends batch until every document is done. Documents that fail
// with a retryable status (429, 5xx, timeout) are sent again alone, after
// an exponential backoff with jitter; those refused for good are replaced
// by their dead-letter copy, sent at once. While it retries, this worker
// takes nothing new: the channel fills and consumption waits.
func (w *bulkWriter) write(ctx context.Context, batch []*document) {
	if w.store != nil {
		w.writeLocal(ctx, batch)
		return
	}
	pending := batch
	backoff := w.cfg.minBackoff
	for attempt := 1; len(pending) > 0; attempt++ {
		retry, dead, err := w.send(ctx, pending)
		if ctx.Err() != nil {
			return
		}
		if err != nil && (attempt == 1 || attempt%10 == 0) {
			w.log.Warnf("es.endpoints: bulk of %d documents failed (attempt %d), retrying: %v", len(pending), attempt, err)
		}
		for _, d := range retry {
			d.part.retried.Inc()
		}
		pending = append(retry, dead...)
		if len(retry) == 0 {
			continue // only dead letters: no reason to wait
		}
		if !w.backoff(ctx, &backoff) {
			return
		}
	}
}

// backoff waits a random time up to *d (full jitter), then doubles *d up
// to maxBackoff. It returns false when ctx ended first.
func (w *bulkWriter) backoff(ctx context.Context, d *time.Duration) bool {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(*d))) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	*d = min(*d*2, w.cfg.maxBackoff)
	return true
}

// send makes one _bulk request of docs, split in halves while
// Elasticsearch finds the request too large (413) or malformed (400). It
// completes the documents stored and returns those to send again after a
// backoff (retry) and the dead-letter copies to send now (dead). err
// explains a failure of a whole request; its documents are in retry.
func (w *bulkWriter) send(ctx context.Context, docs []*document) (retry, dead []*document, err error) {
	w.buf.Reset()
	for _, d := range docs {
		w.buf.Write(d.entry)
	}
	start := time.Now()
	status, body, err := w.post(ctx, w.buf.Bytes())
	if err != nil {
		metrics.BulkSeconds.WithLabelValues("failed").Observe(time.Since(start).Seconds())
		return docs, nil, err
	}
	switch {
	case status == http.StatusOK:
		retry, dead, err = w.results(docs, body)
		outcome := "ok"
		if len(retry)+len(dead) > 0 {
			outcome = "item_errors"
		}
		metrics.BulkSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		return retry, dead, err
	case status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest:
		metrics.BulkSeconds.WithLabelValues("split").Observe(time.Since(start).Seconds())
		if len(docs) == 1 {
			reason := fmt.Sprintf("elasticsearch refused the request holding only this document: %d %.300s", status, body)
			if again, dl := w.refuse(docs[0], http.StatusText(status), reason); again != nil {
				return []*document{again}, nil, nil
			} else {
				return nil, []*document{dl}, nil
			}
		}
		half := len(docs) / 2
		r1, d1, e1 := w.send(ctx, docs[:half])
		r2, d2, e2 := w.send(ctx, docs[half:])
		return append(r1, r2...), append(d1, d2...), errors.Join(e1, e2)
	default:
		metrics.BulkSeconds.WithLabelValues("failed").Observe(time.Since(start).Seconds())
		return docs, nil, fmt.Errorf("_bulk answered %d: %.300s", status, body)
	}
}

// post sends one _bulk body and returns the answer's status and body.
func (w *bulkWriter) post(ctx context.Context, body []byte) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	res, err := w.es.Bulk(bytes.NewReader(body), w.es.Bulk.WithContext(rctx), w.es.Bulk.WithFilterPath(bulkFilter))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read _bulk answer: %w", err)
	}
	return res.StatusCode, answer, nil
}

type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// results completes the stored documents of a 200 answer and sorts out
// the others. An answer that can't be matched to docs is an error, and
// every document is retried (replays overwrite: same _id).
func (w *bulkWriter) results(docs []*document, body []byte) (retry, dead []*document, err error) {
	// Nearly every bulk succeeds whole; "errors" comes first, so that
	// case needs no decoding of thousands of items.
	if bytes.HasPrefix(body, []byte(`{"errors":false`)) {
		for _, d := range docs {
			w.stored(d)
		}
		return nil, nil, nil
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return docs, nil, fmt.Errorf("decode _bulk answer: %w", err)
	}
	if len(r.Items) != len(docs) {
		return docs, nil, fmt.Errorf("_bulk answer has %d items for %d documents", len(r.Items), len(docs))
	}
	for i, d := range docs {
		var it bulkItem
		for _, v := range r.Items[i] {
			it = v
		}
		switch {
		case it.Status >= 200 && it.Status < 300:
			w.stored(d)
		case retryable(it.Status):
			retry = append(retry, d)
		default:
			errType, reason := http.StatusText(it.Status), fmt.Sprintf("status %d", it.Status)
			if it.Error != nil {
				errType, reason = it.Error.Type, it.Error.Reason
			}
			if again, dl := w.refuse(d, errType, reason); again != nil {
				retry = append(retry, again)
			} else {
				dead = append(dead, dl)
			}
		}
	}
	return retry, dead, nil
}

// refuse handles a document Elasticsearch refused for good: it returns
// the dead-letter copy to send now (dl), or, for a refused dead letter,
// the document itself to retry with backoff (again). A dead letter's shape
// is brun's own, so its refusal means Elasticsearch needs fixing, and
// dropping it would lose the record.
func (w *bulkWriter) refuse(d *document, errType, reason string) (again, dl *document) {
	log := w.log.WithFields(logrus.Fields{"topic": d.part.topic, "partition": d.part.id, "offset": d.offset, "index": d.index()})
	if d.deadLetter {
		log.Errorf("dead-letter index refused document %s (%s: %s); retrying", d.id(), errType, reason)
		return d, nil
	}
	log.Warnf("elasticsearch refused document %s (%s: %s); writing it to the dead-letter index", d.id(), errType, reason)
	return nil, d.toDeadLetter(errType, reason, w.now())
}

// stored completes a document Elasticsearch stored.
func (w *bulkWriter) stored(d *document) {
	if d.deadLetter {
		d.part.deadLettered.Inc()
	} else {
		d.part.indexed.Inc()
	}
	d.done()
}

// retryable reports whether an item status may succeed when sent again.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout || status == 0
}
