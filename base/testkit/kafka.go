package testkit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Event is what the tests read back of a brun record.
type Event struct {
	Message string `json:"message"`
	Log     struct {
		Offset int64 `json:"offset"`
		File   struct {
			Path string `json:"path"`
		} `json:"file"`
		Flags []string `json:"flags"`
	} `json:"log"`
	Event struct {
		ID string `json:"id"`
	} `json:"event"`
	Fields map[string]any `json:"fields"`
	JSON   map[string]any `json:"json"`
}

// KafkaRead reads every partition of topic from the oldest record until it
// has collected at least want records or quiet passes without a new one
// after the deadline; it returns what it read, decoded. A record that is
// not a brun event fails t.
func KafkaRead(t testing.TB, topic string, want int, timeout time.Duration) []Event {
	t.Helper()
	return kafkaRead(t, topic, timeout, func(out []Event) bool { return len(out) >= want }, false)
}

// KafkaReadUntil reads every partition of topic from the oldest record
// until a record whose message holds marker has arrived, then reads on to
// the end of every partition as it is then, and returns all it read. It
// fails t if the marker does not arrive within timeout. Tests that must
// show that something was NOT shipped write a marker after it and wait
// for the marker, instead of sleeping.
func KafkaReadUntil(t testing.TB, topic, marker string, timeout time.Duration) []Event {
	t.Helper()
	out := kafkaRead(t, topic, timeout, func(out []Event) bool {
		return len(out) > 0 && strings.Contains(out[len(out)-1].Message, marker)
	}, true)
	for _, e := range out {
		if strings.Contains(e.Message, marker) {
			return out
		}
	}
	t.Fatalf("no record holding %q in %s within %v (%d records read)", marker, topic, timeout, len(out))
	return nil
}

// kafkaRead consumes topic until done says so or timeout passes. Then it
// reads on: to the end of every partition as it is at that moment when
// toEnd is set, else until 2 s pass without a record.
func kafkaRead(t testing.TB, topic string, timeout time.Duration, done func([]Event) bool, toEnd bool) []Event {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_0_0_0
	client, err := sarama.NewClient([]string{KafkaAddr}, cfg)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer c.Close()
	// Right after a broker was paused or restarted, its leadership and
	// metadata may be a moment behind: retry with fresh metadata.
	retry := func(what string, op func() error) {
		t.Helper()
		var err error
		for end := time.Now().Add(30 * time.Second); ; {
			if err = op(); err == nil {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(500 * time.Millisecond)
			client.RefreshMetadata(topic)
		}
	}
	var parts []int32
	retry("partitions of "+topic, func() (err error) { parts, err = c.Partitions(topic); return err })
	msgs := make(chan *sarama.ConsumerMessage, 1024)
	for _, p := range parts {
		var pc sarama.PartitionConsumer
		retry(fmt.Sprintf("consume %s/%d", topic, p), func() (err error) {
			pc, err = c.ConsumePartition(topic, p, sarama.OffsetOldest)
			return err
		})
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
	}
	var out []Event
	next := map[int32]int64{} // per partition: the offset after the last record read
	decode := func(m *sarama.ConsumerMessage) {
		var e Event
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatalf("record %s/%d@%d is not a brun event: %v\n%s", topic, m.Partition, m.Offset, err, m.Value)
		}
		out = append(out, e)
		next[m.Partition] = m.Offset + 1
	}
	deadline := time.After(timeout)
	for !done(out) {
		select {
		case m := <-msgs:
			decode(m)
		case <-deadline:
			return out
		}
	}
	if toEnd {
		end := map[int32]int64{}
		for _, p := range parts {
			retry(fmt.Sprintf("end of %s/%d", topic, p), func() (err error) {
				end[p], err = client.GetOffset(topic, p, sarama.OffsetNewest)
				return err
			})
		}
		reached := func() bool {
			for p, e := range end {
				if next[p] < e {
					return false
				}
			}
			return true
		}
		deadline := time.After(timeout)
		for !reached() {
			select {
			case m := <-msgs:
				decode(m)
			case <-deadline:
				t.Fatalf("could not read %s to its end %v within %v (at %v)", topic, end, timeout, next)
			}
		}
		return out
	}
	// Anything more (duplicates) that is already there.
	for {
		select {
		case m := <-msgs:
			var e Event
			if json.Unmarshal(m.Value, &e) == nil {
				out = append(out, e)
			}
		case <-time.After(2 * time.Second):
			return out
		}
	}
}
