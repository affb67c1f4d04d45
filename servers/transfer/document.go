package transfer

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"brun/servers/ack"
	"brun/servers/event"
)

// document is one Kafka record on its way to Elasticsearch. It carries its
// own completion: done() is called once ES stored it, and only that moves
// its partition's commit watermark.
type document struct {
	index string
	id    string
	body  []byte

	// Where it came from, for the dead-letter index and logs.
	topic     string
	partition int32
	offset    int64

	deadLetter bool // this is already the dead-letter copy of a refused document

	acks   *partitionAcks
	ticket ack.Ticket
}

// done marks the document as stored (or dead-lettered).
func (d *document) done() {
	if wm, moved := d.acks.win.Done(d.ticket); moved {
		d.acks.sess.MarkOffset(d.acks.topic, d.acks.partition, wm, "")
	}
}

// partitionAcks tracks the documents in flight of one claimed partition.
type partitionAcks struct {
	sess      sarama.ConsumerGroupSession
	topic     string
	partition int32
	win       *ack.Window
}

// indexName is the daily index of a document: <topic>-YYYY.MM.DD in UTC.
func indexName(topic string, ts time.Time) string {
	return topic + "-" + ts.UTC().Format("2006.01.02")
}

// newDocument turns a Kafka message into a document. A record brun
// produced keeps its JSON and event.id; any other record is wrapped as
// {"@timestamp", "message"} with id topic-partition-offset.
func newDocument(msg *sarama.ConsumerMessage, now time.Time) *document {
	d := &document{topic: msg.Topic, partition: msg.Partition, offset: msg.Offset}
	meta, ok := event.ReadMeta(msg.Value)
	ts := meta.Timestamp
	if ts.IsZero() {
		ts = msg.Timestamp
	}
	if ts.IsZero() || ts.Year() < 1971 {
		ts = now
	}
	d.index = indexName(msg.Topic, ts)
	d.id = meta.ID
	if d.id == "" {
		d.id = fmt.Sprintf("%s-%d-%d", msg.Topic, msg.Partition, msg.Offset)
	}
	if ok {
		d.body = msg.Value
	} else {
		b := []byte(`{"@timestamp":"`)
		b = ts.UTC().AppendFormat(b, event.TimeLayout)
		b = append(b, `","message":`...)
		b = event.AppendString(b, msg.Value)
		d.body = append(b, '}')
	}
	return d
}

// deadLetterIndex is where documents Elasticsearch refuses for good go.
func deadLetterIndex(now time.Time) string { return "deadletter-" + now.UTC().Format("2006.01.02") }

// toDeadLetter returns the dead-letter copy of d: the original record as a
// string, why it was refused, and where it came from. It keeps d's id and
// completion, so storing it completes the original.
func (d *document) toDeadLetter(errType, reason string, now time.Time) *document {
	b := []byte(`{"@timestamp":"`)
	b = now.UTC().AppendFormat(b, event.TimeLayout)
	b = append(b, `","message":`...)
	b = event.AppendString(b, d.body)
	b = append(b, `,"error":{"type":`...)
	b = event.AppendString(b, []byte(errType))
	b = append(b, `,"message":`...)
	b = event.AppendString(b, []byte(reason))
	b = append(b, `},"kafka":{"topic":`...)
	b = event.AppendString(b, []byte(d.topic))
	b = fmt.Appendf(b, `,"partition":%d,"offset":%d},"original_index":`, d.partition, d.offset)
	b = event.AppendString(b, []byte(d.index))
	b = append(b, '}')
	dl := *d
	dl.index = deadLetterIndex(now)
	dl.body = b
	dl.deadLetter = true
	return &dl
}
