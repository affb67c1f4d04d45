package testkit

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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
//
// It consumes every partition directly, from the oldest record, with no
// group. Right after a broker was paused or restarted its leadership and
// metadata may be a moment behind: the client retries such errors itself
// (asking for metadata again after 500 ms, not its default 5 s), and
// listing the end offsets is retried here for up to 30 s.
func kafkaRead(t testing.TB, topic string, timeout time.Duration, done func([]Event) bool, toEnd bool) []Event {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(KafkaAddr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(500*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer cl.Close()

	var pending []*kgo.Record // fetched, not yet handed out
	// next returns the next record, waiting up to wait for one; nil when
	// none came.
	next := func(wait time.Duration) *kgo.Record {
		t.Helper()
		if len(pending) == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			for len(pending) == 0 && ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachError(func(tp string, p int32, err error) {
					if errors.Is(err, context.DeadlineExceeded) || kerr.IsRetriable(err) {
						return
					}
					t.Fatalf("consume %s/%d: %v", tp, p, err)
				})
				pending = fs.Records()
			}
		}
		if len(pending) == 0 {
			return nil
		}
		r := pending[0]
		pending = pending[1:]
		return r
	}

	var out []Event
	after := map[int32]int64{} // per partition: the offset after the last record read
	decode := func(r *kgo.Record) {
		t.Helper()
		var e Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("record %s/%d@%d is not a brun event: %v\n%s", topic, r.Partition, r.Offset, err, r.Value)
		}
		out = append(out, e)
		after[r.Partition] = r.Offset + 1
	}
	deadline := time.Now().Add(timeout)
	for !done(out) {
		r := next(time.Until(deadline))
		if r == nil {
			return out
		}
		decode(r)
	}
	if toEnd {
		end := endOffsets(t, kadm.NewClient(cl), topic)
		reached := func() bool {
			for p, e := range end {
				if after[p] < e {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(timeout)
		for !reached() {
			r := next(time.Until(deadline))
			if r == nil {
				t.Fatalf("could not read %s to its end %v within %v (at %v)", topic, end, timeout, after)
			}
			decode(r)
		}
		return out
	}
	// Anything more (duplicates) that is already there.
	for {
		r := next(2 * time.Second)
		if r == nil {
			return out
		}
		var e Event
		if json.Unmarshal(r.Value, &e) == nil {
			out = append(out, e)
		}
	}
}

// endOffsets lists the end offset of every partition of topic: the offset
// its next record will get. A listing that fails, wholly or for one
// partition (its leader not known yet right after a restart), is tried
// again every 500 ms for up to 30 s; then it fails t.
func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	var err error
	for stop := time.Now().Add(30 * time.Second); ; {
		var listed kadm.ListedOffsets
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		listed, err = adm.ListEndOffsets(ctx, topic)
		cancel()
		if err == nil {
			err = listed.Error()
		}
		if err == nil {
			end := map[int32]int64{}
			listed.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
			return end
		}
		if time.Now().After(stop) {
			t.Fatalf("end offsets of %s: %v", topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
