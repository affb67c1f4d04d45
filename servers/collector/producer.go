package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/config"
	"brun/base/kafkax"
	"brun/base/metrics"
	"brun/base/retry"
)

// ProducerConfig is what the Kafka producer needs from brun's config.
type ProducerConfig struct {
	Kafka    config.Kafka
	ClientID string
}

// maxRecordBytes is the largest record value the producer sends with
// these settings: a batch of kafka.batch.bytes must hold the record on its
// own, with its key and the batch's headers. A longer event is cut to fit
// by the harvester (flagged truncated); 0 means no limit (the hand-off).
func (pc ProducerConfig) maxRecordBytes() int {
	return pc.Kafka.BatchBytes - 4<<10
}

const (
	// flushWait bounds how long, at shutdown, the producer waits for Kafka
	// to answer for the records it has; the rest stay unacked and are read
	// again from their files after a restart.
	flushWait = 10 * time.Second
	// maxBufferedBytes bounds what franz-go holds of records not yet
	// acknowledged; with the line channel it is the agent's bound on
	// lines in memory while Kafka is slow or down. Eight batches of the
	// default kafka.batch.bytes keep the brokers as busy as 16 did
	// (doc/benchmarks.md), at half the memory.
	maxBufferedBytes = 8 << 20
	// resendQuiet: refusals this long after the last resend start the
	// backoff over.
	resendQuiet = 30 * time.Second
)

// producer moves records from the agent's bounded line channel to Kafka
// with franz-go, and acks each record when the broker stored it. A record
// Kafka refused is sent again after a pause, never dropped; its file's
// offset cannot pass it meanwhile.
type producer struct {
	cfg ProducerConfig
	in  <-chan *Record
	log *logrus.Entry

	mu      sync.Mutex
	retry   []*Record     // records to send again, filled by the promise
	missing []string      // topics the broker does not have, to create
	retryCh chan struct{} // signals that retry is non-empty
	lastLog time.Time     // of the last "refused" warning, under mu

	// backoff is the pause before records are sent again; it grows
	// while Kafka keeps refusing and starts over after a quiet spell.
	// The run goroutine's.
	backoff    retry.Backoff
	lastResend time.Time

	promise func(*kgo.Record, error) // p.done, as a func value made once
}

func newProducer(cfg ProducerConfig, in <-chan *Record, log *logrus.Entry) *producer {
	p := &producer{cfg: cfg, in: in, log: log, retryCh: make(chan struct{}, 1),
		backoff: retry.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second}}
	p.promise = p.done
	return p
}

// options are the producer's franz-go options: every record is stored by
// all in-sync replicas, exactly once per send (idempotent, franz-go's
// default), one file's lines in one partition and in order.
func options(pc ProducerConfig) ([]kgo.Opt, error) {
	opts, err := kafkax.Options(pc.Kafka, pc.ClientID)
	if err != nil {
		return nil, err
	}
	compressor, err := kafkax.Compressor(pc.Kafka.Compression)
	if err != nil {
		return nil, fmt.Errorf("kafka.compression: %w", err)
	}
	if compressor != nil {
		opts = append(opts, kgo.WithCompressor(compressor))
	} else {
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	return append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(pc.Kafka.BatchBytes)),
		kgo.ProducerLinger(pc.Kafka.BatchLinger),
		kgo.RecordPartitioner(kafkax.KeyPartitioner()),
		kgo.MaxBufferedBytes(maxBufferedBytes),
		// As sarama did: the broker creates a missing topic when it is
		// allowed to; else the promise sees UNKNOWN_TOPIC_OR_PARTITION and
		// the producer creates it (kafka.partitions, kafka.replication).
		kgo.AllowAutoTopicCreation(),
		// Told twice that a topic does not exist, the producer creates it.
		kgo.UnknownTopicRetries(1),
		// A new topic is looked up again soon, not after franz-go's 5 s.
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(time.Duration(tries)*250*time.Millisecond, 2*time.Second)
		}),
	), nil
}

// run sends until ctx ends, then drains: it waits up to flushWait for
// Kafka to answer for every record it was given, so every stored record
// is acked before the offsets are saved. Records still in the channel, or
// not answered for in time, are left unacked; they are read again from
// the file after a restart.
func (p *producer) run(ctx context.Context) {
	opts, err := options(p.cfg)
	var cl *kgo.Client
	if err == nil {
		cl, err = kgo.NewClient(opts...)
	}
	if err != nil {
		// The configuration was validated; only an unreadable TLS file
		// gets here. Nothing is sent: the readers wait on the channel.
		p.log.Errorf("kafka: %v; nothing is sent", err)
		<-ctx.Done()
		return
	}
	p.log.WithField("brokers", p.cfg.Kafka.Endpoints).Info("kafka producer started")
	go p.watchBrokers(ctx, cl)

	// Records handed to franz-go carry sendCtx: once it ends, those not
	// yet sent fail with its error, and are left unacked.
	sendCtx, cancelSends := context.WithCancel(context.Background())
	defer cancelSends()
	for ctx.Err() == nil {
		var rec *Record
		select {
		case rec = <-p.in: // the common case, without a blocking select
		default:
			select {
			case rec = <-p.in:
			case <-p.retryCh:
				p.resend(ctx, sendCtx, cl)
				continue
			case <-ctx.Done():
				continue
			}
		}
		p.send(sendCtx, cl, rec)
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), flushWait)
	if err := cl.Flush(flushCtx); err != nil {
		p.log.Warnf("kafka did not answer for every record within %v; the rest are read again from their files after a restart", flushWait)
	}
	cancel()
	cancelSends()
	cl.Close()
}

// send hands rec to franz-go; it blocks while franz-go holds
// maxBufferedBytes, which is the backpressure on the line channel.
func (p *producer) send(sendCtx context.Context, cl *kgo.Client, rec *Record) {
	cl.Produce(sendCtx, rec.kafkaRecord(sendCtx), p.promise)
}

// done is franz-go's answer for one record, called in the order the
// records were produced, from one goroutine. (p.promise is this method,
// made once.)
func (p *producer) done(kr *kgo.Record, err error) {
	rec := recordOf(kr)
	if err == nil {
		rec.Ack()
		return
	}
	if kr.Context.Err() != nil {
		return // shutting down: the record is read again from its file after restart
	}
	metrics.ProduceErrors.WithLabelValues(rec.Topic).Inc()
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(err, kerr.UnknownTopicOrPartition) && !slices.Contains(p.missing, rec.Topic) {
		p.missing = append(p.missing, rec.Topic)
	}
	if time.Since(p.lastLog) > 10*time.Second {
		path, topic := rec.Where()
		msg := "kafka refused a record, sending it again: %v"
		if errors.Is(err, kerr.MessageTooLarge) {
			msg = "kafka refused a record as too large, sending it again: kafka.batch.bytes must not exceed the brokers' message.max.bytes (and the topic's max.message.bytes): %v"
		}
		p.log.WithFields(logrus.Fields{"topic": topic, "path": path}).Warnf(msg, err)
		p.lastLog = time.Now()
	}
	p.retry = append(p.retry, rec)
	select {
	case p.retryCh <- struct{}{}:
	default:
	}
}

// resend sends again what Kafka refused, after a pause so a down broker is
// not hammered; topics the broker said it does not have are created first.
// The queue is bounded by the per-file ack windows, since every queued
// record holds a place in one.
func (p *producer) resend(ctx, sendCtx context.Context, cl *kgo.Client) {
	if time.Since(p.lastResend) > resendQuiet {
		p.backoff.Reset()
	}
	if !p.backoff.Wait(ctx) {
		return
	}
	p.lastResend = time.Now()
	p.mu.Lock()
	batch, missing := p.retry, p.missing
	p.retry, p.missing = nil, nil
	p.mu.Unlock()
	for _, topic := range missing {
		p.createTopic(ctx, cl, topic)
	}
	for _, rec := range batch {
		metrics.ProduceRetries.WithLabelValues(rec.Topic).Inc()
		p.send(sendCtx, cl, rec)
	}
}

// createTopic creates a topic the broker does not have and does not
// create on its own.
func (p *producer) createTopic(ctx context.Context, cl *kgo.Client, topic string) {
	k := p.cfg.Kafka
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	created, err := kafkax.EnsureTopic(actx, cl, topic, k.Partitions, k.Replication)
	log := p.log.WithField("topic", topic)
	switch {
	case err != nil:
		log.Warnf("kafka has no topic %s and does not create it on its own; creating it failed, trying again: %v", topic, err)
	case created:
		log.Infof("kafka had no topic %s and does not create topics on its own: created it (kafka.partitions %d, kafka.replication %d; 0 is the brokers' default)", topic, k.Partitions, k.Replication)
	}
}

// watchBrokers logs when no broker can be reached, and when one can again:
// franz-go itself retries without end, while the readers wait on the full
// line channel.
func (p *producer) watchBrokers(ctx context.Context, cl *kgo.Client) {
	down := false
	var lastLog time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cl.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && (!down || time.Since(lastLog) > 5*time.Minute):
			p.log.WithField("brokers", p.cfg.Kafka.Endpoints).Warnf("kafka.endpoints: can't reach kafka, retrying: %v", err)
			down, lastLog = true, time.Now()
		case err == nil && down:
			p.log.WithField("brokers", p.cfg.Kafka.Endpoints).Info("kafka reachable again")
			down = false
		}
		if !retry.Sleep(ctx, 10*time.Second) {
			return
		}
	}
}
