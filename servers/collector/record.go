package collector

import (
	"github.com/IBM/sarama"

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
	// msg is the record as sarama sends it, allocated with the Record: one
	// allocation per line instead of three.
	msg sarama.ProducerMessage
}

// valueEncoder lets sarama read a Record's Value without a conversion that
// would allocate per line.
type valueEncoder Record

func (v *valueEncoder) Encode() ([]byte, error) { return v.Value, nil }
func (v *valueEncoder) Length() int             { return len(v.Value) }

// message fills and returns the sarama message of the record.
func (r *Record) message() *sarama.ProducerMessage {
	r.msg = sarama.ProducerMessage{Topic: r.Topic, Key: r.stream.keyEnc, Value: (*valueEncoder)(r), Metadata: r}
	return &r.msg
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
	key      []byte // Kafka record key of every line of this reading
	keyEnc   sarama.Encoder
	tj       *tailJob // counts acks for status
}
