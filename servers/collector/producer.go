package collector

import (
	"context"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/sirupsen/logrus"

	"brun/base/config"
	"brun/base/kafkax"
	"brun/base/metrics"
	"brun/servers/job"
)

// ProducerConfig is what the Kafka producer needs from brun's config.
type ProducerConfig struct {
	Kafka    config.Kafka
	ClientID string
}

// producer moves records from the agent's bounded line channel to Kafka
// with sarama's AsyncProducer and acks each record when the broker stored
// it. A record Kafka refused is sent again after a pause, never dropped; its
// file's offset cannot pass it meanwhile.
type producer struct {
	cfg ProducerConfig
	in  <-chan *Record
	log *logrus.Entry

	mu      sync.Mutex
	retry   []*Record     // records to send again, filled by the error reader
	retryCh chan struct{} // signals that retry is non-empty
}

func newProducer(cfg ProducerConfig, in <-chan *Record, log *logrus.Entry) *producer {
	return &producer{cfg: cfg, in: in, log: log, retryCh: make(chan struct{}, 1)}
}

// saramaConfig is the producer's configuration: every record is stored by
// all in-sync replicas, exactly once per send (idempotent), in order.
func saramaConfig(pc ProducerConfig) (*sarama.Config, error) {
	c, err := kafkax.Config(pc.Kafka, pc.ClientID)
	if err != nil {
		return nil, err
	}
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1 // required by the idempotent producer; keeps a file's lines in order
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 250 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Compression = kafkax.Compression(pc.Kafka.Compression)
	c.Producer.Flush.Bytes = pc.Kafka.BatchBytes
	c.Producer.Flush.Frequency = pc.Kafka.BatchLinger
	// A record may be a whole max_line_bytes line plus its JSON; the broker's
	// own limit applies to the compressed batch.
	c.Producer.MaxMessageBytes = 2*job.MaxMaxLineBytes + 64<<10
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.ChannelBufferSize = 4096 // fewer goroutine hand-offs per record inside sarama
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 500 * time.Millisecond
	return c, nil
}

// run sends until ctx ends, then drains: it closes the producer and keeps
// reading its successes and errors until sarama has answered for every
// record, so every stored record is acked before the offsets are saved.
// Records still in the channel are left unacked; they are read again from
// the file after a restart.
func (p *producer) run(ctx context.Context) {
	ap, ok := p.connect(ctx)
	if !ok {
		return // ended before Kafka was reached: nothing was sent, nothing to drain
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for m := range ap.Successes() {
			m.Metadata.(*Record).Ack()
		}
	}()
	go func() {
		defer wg.Done()
		p.readErrors(ctx, ap.Errors())
	}()

	for ctx.Err() == nil {
		var rec *Record
		select {
		case rec = <-p.in: // the common case, without a blocking select
		default:
			select {
			case rec = <-p.in:
			case <-p.retryCh:
				p.resend(ctx, ap)
				continue
			case <-ctx.Done():
				continue
			}
		}
		p.send(ctx, ap, rec)
	}
	ap.AsyncClose()
	wg.Wait()
}

func (p *producer) send(ctx context.Context, ap sarama.AsyncProducer, rec *Record) {
	msg := rec.message()
	select {
	case ap.Input() <- msg:
	default:
		select {
		case ap.Input() <- msg:
		case <-ctx.Done():
		}
	}
}

// resend sends again what Kafka refused, after a pause so a down broker is
// not hammered.
func (p *producer) resend(ctx context.Context, ap sarama.AsyncProducer) {
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return
	}
	p.mu.Lock()
	batch := p.retry
	p.retry = nil
	p.mu.Unlock()
	for _, rec := range batch {
		metrics.ProduceRetries.WithLabelValues(rec.Topic).Inc()
		p.send(ctx, ap, rec)
	}
}

// readErrors never blocks on anything but sarama, which would otherwise
// stall; failed records are queued for resend. The queue is bounded by the
// per-file ack windows, since every queued record holds a place in one.
func (p *producer) readErrors(ctx context.Context, errs <-chan *sarama.ProducerError) {
	var last time.Time
	for pe := range errs {
		rec := pe.Msg.Metadata.(*Record)
		metrics.ProduceErrors.WithLabelValues(rec.Topic).Inc()
		if time.Since(last) > 10*time.Second {
			path, topic := rec.Where()
			p.log.WithFields(logrus.Fields{"topic": topic, "path": path}).Warnf("kafka refused a record, sending it again: %v", pe.Err)
			last = time.Now()
		}
		if ctx.Err() != nil {
			continue // shutting down: the record is read again from its file after restart
		}
		p.mu.Lock()
		p.retry = append(p.retry, rec)
		p.mu.Unlock()
		select {
		case p.retryCh <- struct{}{}:
		default:
		}
	}
}

// connect creates the sarama producer, waiting for Kafka as long as it
// takes: the tailers meanwhile block on the full line channel. ok is false
// when ctx ended first.
func (p *producer) connect(ctx context.Context) (ap sarama.AsyncProducer, ok bool) {
	backoff := time.Second
	var lastLog time.Time
	brokers := p.cfg.Kafka.Endpoints
	for {
		sc, err := saramaConfig(p.cfg)
		if err == nil {
			ap, err = sarama.NewAsyncProducer(brokers, sc)
		}
		if err == nil {
			p.log.WithField("brokers", brokers).Info("connected to kafka")
			return ap, true
		}
		if time.Since(lastLog) > 30*time.Second {
			p.log.WithField("brokers", brokers).Warnf("kafka.endpoints: can't reach kafka, retrying: %v", err)
			lastLog = time.Now()
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, false
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
