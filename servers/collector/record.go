package collector

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/metrics"
	"brun/servers/ack"
)

// Record is one line on its way to Kafka. It carries its own completion:
// the producer calls Ack once Kafka has stored it, and that alone can move
// the file's saved offset.
type Record struct {
	Topic string
	Key   []byte // the file's identity: keeps one file's lines in one partition, in order
	Value []byte // the JSON event (package event)

	stream *stream
	ticket ack.Ticket
	// kr is the record as franz-go sends it, and ctx its context, which
	// leads back to the Record in the producer's promise: allocated with
	// the Record, so a line costs no allocation more for Kafka.
	kr  kgo.Record
	ctx recordContext
}

// recordContext is the context a record is produced with (the producer's,
// which ends at shutdown) and the Record it belongs to.
type recordContext struct {
	context.Context
	rec *Record
}

// kafkaRecord fills and returns the franz-go record of r, produced with
// ctx.
func (r *Record) kafkaRecord(ctx context.Context) *kgo.Record {
	r.ctx = recordContext{Context: ctx, rec: r}
	r.kr = kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Context: &r.ctx}
	return &r.kr
}

// recordOf returns the Record kr was made from by kafkaRecord.
func recordOf(kr *kgo.Record) *Record { return kr.Context.(*recordContext).rec }

// Ack marks the record as stored by Kafka. It must be called exactly once,
// and only after the broker acknowledged the record.
func (r *Record) Ack() {
	r.stream.win.Done(r.ticket) // the registry reads the watermark from the window
	r.stream.counts.acked.Add(1)
	r.stream.counts.mAcked.Inc()
	metrics.Unacked.Dec()
}

// Where names the record's origin for log lines.
func (r *Record) Where() (path string, topic string) { return r.stream.path, r.Topic }

// stream is one reading of one file by one job: the acks of its records,
// whose watermark the file's cursor saves, and where they are counted.
type stream struct {
	path   string
	win    *ack.Window
	key    []byte       // Kafka record key of every line of this reading
	counts *jobCounters // counts acks for status
}

// output is where a harvester hands its records: the collector's bounded
// line channel, which the sink drains, and the largest record value the
// sink takes.
type output struct {
	lines     chan<- *Record
	maxRecord int // 0: any size
}

// send hands rec to the sink, waiting while the line channel is full:
// that wait is the sink's backpressure on the reader. It returns false,
// with rec not handed on, when ctx ends first.
func (o output) send(ctx context.Context, rec *Record) bool {
	select {
	case o.lines <- rec: // the common case, without a blocking select
		return true
	default:
	}
	select {
	case o.lines <- rec:
		return true
	case <-ctx.Done():
		return false
	}
}

// jobCounters are one job's counts: the atomic ones are what its status
// shows, the Prometheus ones its series (lines, bytes and dropped events
// by job, sent and acked by topic). Its harvesters count what they read,
// drop and send, its records' Ack what was stored; status reads them from
// any goroutine.
type jobCounters struct {
	lines, bytes, acked, dropped atomic.Int64
	mLines, mBytes, mDropped     prometheus.Counter
	mSent, mAcked                prometheus.Counter
}
