package collector

import (
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
	// kr is the record as franz-go sends it, allocated with the Record:
	// one allocation per line instead of two.
	kr kgo.Record
}

// kafkaRecord fills and returns the franz-go record of r.
func (r *Record) kafkaRecord() *kgo.Record {
	r.kr = kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
	return &r.kr
}

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
