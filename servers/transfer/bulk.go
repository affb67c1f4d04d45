package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/sirupsen/logrus"

	"brun/servers/event"
)

// Bulk limits: a bulk is sent when it holds bulkActions documents or
// bulkBytes of body, or flushInterval after its first document.
const (
	bulkActions   = 5000
	bulkBytes     = 5 << 20
	flushInterval = time.Second
	// bulkTimeout bounds one _bulk request; a slower answer is retried.
	bulkTimeout = 60 * time.Second
	maxBackoff  = 30 * time.Second
)

// bulkWriter is one of es.nums workers: it batches documents from the
// channel and writes them with _bulk until each is stored or, refused for
// good, dead-lettered.
type bulkWriter struct {
	es  *elasticsearch.Client
	in  <-chan *document
	log *logrus.Entry
	buf bytes.Buffer
}

// run writes until in is closed and drained, or ctx ends. Documents not
// written when ctx ends stay unacked: their offsets are not committed, and
// they are read again from Kafka.
func (w *bulkWriter) run(ctx context.Context) {
	batch := make([]*document, 0, bulkActions)
	size := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			w.write(ctx, batch)
		}
		batch, size = batch[:0], 0
	}
	for {
		select {
		case d, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(flushInterval)
			}
			batch = append(batch, d)
			size += len(d.body) + len(d.index) + len(d.id) + 48
			if len(batch) >= bulkActions || size >= bulkBytes {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		case <-ctx.Done():
			return
		}
	}
}

// write sends batch until every document is done. Documents that fail
// with a retryable status are sent again alone, after a backoff; those
// refused for good are replaced by their dead-letter copy.
func (w *bulkWriter) write(ctx context.Context, batch []*document) {
	pending := batch
	backoff := 100 * time.Millisecond
	for attempt := 1; len(pending) > 0; attempt++ {
		retry, err := w.send(ctx, pending)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The whole request failed (ES down, timeout, 429/5xx on the
			// request): everything is retried, and meanwhile this worker
			// takes nothing new, so the channel fills and consumption waits.
			if attempt == 1 || attempt%10 == 0 {
				w.log.Warnf("es.endpoints: bulk of %d documents failed (attempt %d), retrying: %v", len(pending), attempt, err)
			}
			retry = pending
		}
		pending = retry
		if len(pending) == 0 {
			return
		}
		// Full jitter: sleep a random time up to the backoff.
		d := time.Duration(rand.Int64N(int64(backoff))) + 10*time.Millisecond
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// send makes one _bulk request. It returns the documents to send again, or
// an error when the request as a whole failed.
func (w *bulkWriter) send(ctx context.Context, docs []*document) ([]*document, error) {
	w.buf.Reset()
	for _, d := range docs {
		w.buf.WriteString(`{"index":{"_index":`)
		w.buf.Write(event.AppendString(nil, []byte(d.index)))
		w.buf.WriteString(`,"_id":`)
		w.buf.Write(event.AppendString(nil, []byte(d.id)))
		w.buf.WriteString("}}\n")
		w.buf.Write(d.body)
		w.buf.WriteByte('\n')
	}
	rctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	res, err := w.es.Bulk(bytes.NewReader(w.buf.Bytes()), w.es.Bulk.WithContext(rctx))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read bulk response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bulk answered %s: %.200s", res.Status(), body)
	}
	return w.results(docs, body)
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

// results completes the stored documents and returns those to send again.
func (w *bulkWriter) results(docs []*document, body []byte) ([]*document, error) {
	// Nearly every bulk succeeds whole; ES puts "errors" first, so that case
	// needs no decoding of thousands of items.
	head := body[:min(len(body), 64)]
	if bytes.Contains(head, []byte(`"errors":false`)) {
		for _, d := range docs {
			d.done()
		}
		return nil, nil
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode bulk response: %w", err)
	}
	if len(r.Items) != len(docs) {
		return nil, fmt.Errorf("bulk response has %d items for %d documents", len(r.Items), len(docs))
	}
	var retry []*document
	now := time.Now()
	for i, d := range docs {
		var it bulkItem
		for _, v := range r.Items[i] {
			it = v
		}
		switch {
		case it.Status >= 200 && it.Status < 300:
			d.done()
		case retryable(it.Status):
			retry = append(retry, d)
		default:
			errType, reason := "unknown", fmt.Sprintf("status %d", it.Status)
			if it.Error != nil {
				errType, reason = it.Error.Type, it.Error.Reason
			}
			log := w.log.WithFields(logrus.Fields{"topic": d.topic, "partition": d.partition, "offset": d.offset, "index": d.index})
			if d.deadLetter {
				// The dead-letter index itself refused it: nothing more can be
				// done; say so loudly and move on rather than stall the partition.
				log.Errorf("dead-letter index refused document %s too (%s: %s); it is dropped", d.id, errType, reason)
				d.done()
				continue
			}
			log.Warnf("elasticsearch refused document %s (%d %s: %s); writing it to the dead-letter index", d.id, it.Status, errType, reason)
			retry = append(retry, d.toDeadLetter(errType, reason, now))
		}
	}
	return retry, nil
}

// retryable reports whether an item status may succeed when sent again.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout || status == 0
}
