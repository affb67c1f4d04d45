package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/sirupsen/logrus"

	"brun/base/esx"
	"brun/base/metrics"
	"brun/base/retry"
)

// bulkFilter keeps only what results reads of a _bulk answer: a success
// is then {"index":{"status":201}}, a tenth of the full item.
const bulkFilter = "errors,items.*.status,items.*.error.type,items.*.error.reason"

// bulkTimeout bounds one _bulk request; a slower answer is retried.
const bulkTimeout = esx.ResponseTimeout

// esSink is a writer's sink to Elasticsearch: it sends each batch with
// _bulk until every document is stored or, refused for good,
// dead-lettered. The client is shared by every writer.
type esSink struct {
	es        *elasticsearch.Client
	templates *templates // each topic's, installed before its first document
	cfg       writerConfig
	log       *logrus.Entry
	now       func() time.Time
}

// write sends batch until every document is done. Documents that fail
// with a retryable status (429, 5xx, timeout) are sent again alone, after
// an exponential backoff with jitter; those refused for good are replaced
// by their dead-letter copy, sent at once. While it retries, this worker
// takes nothing new: the channel fills and consumption waits.
func (s *esSink) write(ctx context.Context, batch []*document) {
	pending := batch
	backoff := s.cfg.backoff
	var quiet retry.Quiet
	for len(pending) > 0 {
		again, dead, err := s.send(ctx, pending)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if say, attempt := quiet.Failed(err); say {
				s.log.Warnf("es.endpoints: bulk of %d documents failed (attempt %d), retrying: %v", len(pending), attempt, err)
			}
		}
		for _, d := range again {
			d.part.retried.Inc()
		}
		pending = append(again, dead...)
		if len(again) == 0 {
			continue // only dead letters: no reason to wait
		}
		if !backoff.Wait(ctx) {
			return
		}
	}
}

// send makes one _bulk request of docs, split in halves while
// Elasticsearch finds the request too large (413) or malformed (400). It
// completes the documents stored and returns those to send again after a
// backoff (retry) and the dead-letter copies to send now (dead). err
// explains a failure of a whole request; its documents are in retry.
func (s *esSink) send(ctx context.Context, docs []*document) (retry, dead []*document, err error) {
	if err := s.templates.ensure(ctx, docs); err != nil {
		return docs, nil, err
	}
	start := time.Now()
	status, body, err := s.post(ctx, docs)
	if err != nil {
		metrics.BulkSeconds.WithLabelValues("failed").Observe(time.Since(start).Seconds())
		return docs, nil, err
	}
	switch {
	case status == http.StatusOK:
		retry, dead, err = s.results(docs, body)
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
			if again, dl := s.refuse(docs[0], http.StatusText(status), reason); again != nil {
				return []*document{again}, nil, nil
			} else {
				return nil, []*document{dl}, nil
			}
		}
		half := len(docs) / 2
		r1, d1, e1 := s.send(ctx, docs[:half])
		r2, d2, e2 := s.send(ctx, docs[half:])
		return append(r1, r2...), append(d1, d2...), errors.Join(e1, e2)
	default:
		metrics.BulkSeconds.WithLabelValues("failed").Observe(time.Since(start).Seconds())
		return docs, nil, fmt.Errorf("_bulk answered %d: %.300s", status, body)
	}
}

// post sends the _bulk request of docs and returns the answer's status
// and body. The body is streamed from the documents' entries (chunked),
// not copied into one buffer first.
func (s *esSink) post(ctx context.Context, docs []*document) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	res, err := s.es.Bulk(&entries{docs: docs}, s.es.Bulk.WithContext(rctx), s.es.Bulk.WithFilterPath(bulkFilter))
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
func (s *esSink) results(docs []*document, body []byte) (retry, dead []*document, err error) {
	// Nearly every bulk succeeds whole; "errors" comes first, so that
	// case needs no decoding of thousands of items.
	if bytes.HasPrefix(body, []byte(`{"errors":false`)) {
		for _, d := range docs {
			finish(d)
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
			finish(d)
		case retryable(it.Status):
			retry = append(retry, d)
		default:
			errType, reason := http.StatusText(it.Status), fmt.Sprintf("status %d", it.Status)
			if it.Error != nil {
				errType, reason = it.Error.Type, it.Error.Reason
			}
			if again, dl := s.refuse(d, errType, reason); again != nil {
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
func (s *esSink) refuse(d *document, errType, reason string) (again, dl *document) {
	log := s.log.WithFields(logrus.Fields{"topic": d.part.topic, "partition": d.part.id, "offset": d.offset, "index": d.index()})
	if d.deadLetter {
		log.Errorf("dead-letter index refused document %s (%s: %s); retrying", d.id(), errType, reason)
		return d, nil
	}
	log.Warnf("elasticsearch refused document %s (%s: %s); writing it to the dead-letter index", d.id(), errType, reason)
	return nil, d.toDeadLetter(errType, reason, s.now())
}

// finish counts a document the sink stored (or its dead letter) and
// completes it.
func finish(d *document) {
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

// entries reads the _bulk body of docs: their entries, one after another.
type entries struct {
	docs []*document
	off  int // read of docs[0].entry
}

func (r *entries) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.docs) > 0 {
		c := copy(p[n:], r.docs[0].entry[r.off:])
		n += c
		r.off += c
		if r.off == len(r.docs[0].entry) {
			r.docs, r.off = r.docs[1:], 0
		}
	}
	if n == 0 && len(r.docs) == 0 {
		return 0, io.EOF
	}
	return n, nil
}
