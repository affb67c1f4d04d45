package transfer

import (
	"context"
	"sync/atomic"
	"time"

	"brun/base/config"
	"brun/base/retry"
)

const (
	// minBackoff and maxBackoff bound the wait before a retry; it doubles
	// from the first to the second with each failed attempt, with full
	// jitter. maxBackoff is also how late, at most, writing resumes after
	// Elasticsearch comes back.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// writerConfig is what a bulkWriter and its sink need of [es], in its
// own type so tests can shorten the waits.
type writerConfig struct {
	limits  *bulkLimits   // es.bulk.actions, es.bulk.bytes, es.flush.interval
	backoff retry.Backoff // between attempts of a batch, or of its failed documents
}

func newWriterConfig(c config.ES) writerConfig {
	return writerConfig{limits: newBulkLimits(c), backoff: retry.Backoff{Min: minBackoff, Max: maxBackoff}}
}

// sink stores batches of rendered documents: Elasticsearch's _bulk
// (esSink) or, when es.endpoints is empty, the local files (fileSink).
// Each writer has its own, chosen at start; nothing above it asks which.
type sink interface {
	// write stores every document of batch and completes each exactly
	// once (stored), retrying with backoff while the store refuses, so
	// it blocks, and the writer with it, for as long as that lasts. It
	// returns early only when ctx ends: the documents not completed then
	// stay unacked and are read again.
	write(ctx context.Context, batch []*document)
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

// bulkWriter is one of the writers (es.nums of them, or one for the
// local files): it takes documents from the channel, renders them, and
// hands batches of es.bulk.actions or es.bulk.bytes, or what came within
// es.flush.interval, to its sink.
type bulkWriter struct {
	out   sink
	in    <-chan *document
	cfg   writerConfig
	ready <-chan struct{} // closed once the sink can take batches (index templates installed)
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
			w.out.write(ctx, batch)
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
		var d *document
		ok := true
		// While documents are waiting, take them without the full select
		// (a third of a writer's own CPU at full speed); the timer and ctx
		// are looked at when the channel runs dry.
		select {
		case d, ok = <-w.in:
		default:
			select {
			case d, ok = <-w.in:
			case <-timer.C:
				if !flush() {
					return
				}
				continue
			case <-ctx.Done():
				return
			}
		}
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
	}
}
