package collector

import (
	"context"

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
	r.stream.tj.acked.Add(1)
	r.stream.tj.mAcked.Inc()
	metrics.Unacked.Dec()
}

// Where names the record's origin for log lines.
func (r *Record) Where() (path string, topic string) { return r.stream.path, r.Topic }

// stream is one reading of one file by one job: the acks of its records and
// where their watermark is saved.
type stream struct {
	reg      *Registry
	job      string
	path     string
	dev, ino uint64
	gen      uint64
	win      *ack.Window
	key      []byte   // Kafka record key of every line of this reading
	tj       *tailJob // counts acks for status
}
