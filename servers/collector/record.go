package collector

import (
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
}

// Ack marks the record as stored by Kafka. It must be called exactly once,
// and only after the broker acknowledged the record.
func (r *Record) Ack() {
	if wm, moved := r.stream.win.Done(r.ticket); moved {
		r.stream.advance(wm)
	}
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

func (s *stream) advance(offset int64) {
	s.reg.Advance(s.job, s.dev, s.ino, s.gen, offset)
}
