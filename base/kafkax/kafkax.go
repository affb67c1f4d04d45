// Package kafkax builds the sarama configuration every role shares from
// the [kafka] section: protocol version, client id, TLS and SASL. Roles add
// their producer or consumer settings on top.
package kafkax

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"brun/base/config"
)

// Version is the Kafka protocol version brun speaks: Kafka 3.0 and later
// (Kafka 4 dropped the older protocols).
var Version = sarama.V3_0_0_0

// Config returns a sarama config with the connection settings of k.
func Config(k config.Kafka, clientID string) (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = Version
	tlsCfg, err := k.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kafka.%w", err)
	}
	if tlsCfg != nil {
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = tlsCfg
	}
	if k.SASLMechanism != "" {
		c.Net.SASL.Enable = true
		c.Net.SASL.User = k.SASLUsername
		c.Net.SASL.Password = k.SASLPassword
		switch k.SASLMechanism {
		case "PLAIN":
			c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case "SCRAM-SHA-256":
			c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
		case "SCRAM-SHA-512":
			c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
		}
	}
	return c, nil
}

// Compression maps kafka.compression to sarama's codec.
func Compression(name string) sarama.CompressionCodec {
	switch name {
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	return sarama.CompressionNone
}

// scramClient adapts xdg-go/scram to sarama's SCRAMClient.
type scramClient struct {
	hash func() hash.Hash
	conv *scram.ClientConversation
}

func (s *scramClient) Begin(user, password, authzID string) error {
	c, err := scram.HashGeneratorFcn(s.hash).NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	s.conv = c.NewConversation()
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }

func (s *scramClient) Done() bool { return s.conv.Done() }
