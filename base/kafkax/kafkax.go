// Package kafkax builds the franz-go client options every role shares from
// the [kafka] section: brokers, client id, TLS and SASL. Roles add their
// producer or consumer options on top. It also creates a topic the broker
// does not have (EnsureTopic).
package kafkax

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"brun/base/config"
)

// Options returns the connection options of k: the seed brokers, the
// client id, TLS and SASL.
func Options(k config.Kafka, clientID string) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Endpoints...),
		kgo.ClientID(clientID),
	}
	tlsCfg, err := k.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kafka.%w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	switch k.SASLMechanism {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: k.SASLUsername, Pass: k.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUsername, Pass: k.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUsername, Pass: k.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", k.SASLMechanism)
	}
	return opts, nil
}

// Compression maps kafka.compression to franz-go's codec.
func Compression(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// KeyPartitioner puts every record of one key in one partition, the
// partition sarama's default hash partitioner chose (FNV-1a), which brun
// used before franz-go: after an upgrade a file's lines stay in the
// partition its earlier lines are in, so they stay in order.
func KeyPartitioner() kgo.Partitioner {
	return kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(func(b []byte) uint32 {
		h := fnv.New32a()
		h.Write(b)
		return h.Sum32()
	}))
}

// EnsureTopic creates topic with the given partitions and replication
// factor (0: the broker's num.partitions and default.replication.factor).
// created is false when the topic already exists.
func EnsureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions, replication int) (created bool, err error) {
	p, r := int32(-1), int16(-1) // -1: the broker's default
	if partitions > 0 {
		p = int32(partitions)
	}
	if replication > 0 {
		r = int16(replication)
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, p, r, nil, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create topic %s (kafka.partitions %d, kafka.replication %d): %w", topic, partitions, replication, err)
	}
	return true, nil
}
