package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"brun/base/etcdx"
	"brun/base/testkit"
)

// 100,000 events through Kafka become exactly 100,000 documents with the
// expected fields; after the group's offsets are reset to the earliest
// and the transfer restarted, every document is written again (version 2)
// and there are still exactly 100,000.
func TestHundredThousandExactlyOnceAndReplay(t *testing.T) {
	testkit.Integration(t)
	const total, parts = 100000, 4
	topic, group := testkit.Unique("xfer"), testkit.Unique("xfer-group")
	index := topic + "-" + lineDay
	createTopic(t, topic, parts)
	produce(t, topic, parts, 0, total)

	cfg := testConfig(testkit.ESURL, topic, group)
	stop := startTransfer(t, cfg)
	waitCommitted(t, group, topic, parts, total, 5*time.Minute)
	stop()
	if n := testkit.ESCount(t, topic+"-*"); n != total {
		t.Fatalf("%s holds %d documents, want exactly %d", topic+"-*", n, total)
	}
	checkDocument(t, index, 4242, 1)
	checkTemplateScope(t, topic)

	// Reset the group to the earliest offsets, as kafka-consumer-groups
	// --reset-offsets --to-earliest does, and start again.
	resetToEarliest(t, group, topic, parts)
	if c := committed(t, group, topic, parts); fmt.Sprint(c) != "[0 0 0 0]" {
		t.Fatalf("committed offsets after the reset %v, want all 0", c)
	}
	stop = startTransfer(t, cfg)
	waitCommitted(t, group, topic, parts, total, 5*time.Minute)
	stop()
	if n := testkit.ESCount(t, topic+"-*"); n != total {
		t.Fatalf("after the replay %s holds %d documents, want exactly %d", topic+"-*", n, total)
	}
	checkDocument(t, index, 4242, 2)
}

// checkTemplateScope checks what topic's index template reaches: its
// alias (named after the topic) finds every document, and an index
// someone else creates on the same day, logstash-style, gets none of
// brun's mappings or settings.
func checkTemplateScope(t *testing.T, topic string) {
	t.Helper()
	var count struct {
		Count int `json:"count"`
	}
	testkit.ES(t, "GET", "/"+strings.ToLower(topic)+"/_count", "", &count)
	if count.Count != testkit.ESCount(t, topic+"-*") || count.Count == 0 {
		t.Errorf("alias %s counts %d documents, the indices %d", topic, count.Count, testkit.ESCount(t, topic+"-*"))
	}
	other := testkit.Unique("logstash") + "-" + lineDay
	testkit.ES(t, "PUT", "/"+other, "", nil)
	t.Cleanup(func() { testkit.ES(t, "DELETE", "/"+other, "", nil) })
	var m map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	testkit.ES(t, "GET", "/"+other+"/_mapping", "", &m)
	if props := m[other].Mappings["properties"]; props != nil {
		t.Errorf("%s, not brun's, got mappings %v", other, props)
	}
	var st map[string]struct {
		Settings struct {
			Index map[string]any `json:"index"`
		} `json:"settings"`
	}
	testkit.ES(t, "GET", "/"+other+"/_settings", "", &st)
	if ri := st[other].Settings.Index["refresh_interval"]; ri != nil {
		t.Errorf("%s, not brun's, got brun's refresh_interval %v", other, ri)
	}
}

// checkDocument finds event seq by its message and checks what a user
// would: one document, the fields of the agent and of the enrichment, and
// how many times it was written.
func checkDocument(t *testing.T, index string, seq int, version int) {
	t.Helper()
	var r struct {
		Hits struct {
			Hits []struct {
				ID      string         `json:"_id"`
				Version int            `json:"_version"`
				Source  map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q := fmt.Sprintf(`{"version":true,"query":{"match_phrase":{"message":"seq=%07d"}}}`, seq)
	testkit.ES(t, "POST", "/"+index+"/_search", q, &r)
	if len(r.Hits.Hits) != 1 {
		t.Fatalf("seq=%07d: %d documents in %s, want 1", seq, len(r.Hits.Hits), index)
	}
	h := r.Hits.Hits[0]
	want := map[string]any{
		"@timestamp": "2026-11-25T04:05:06.789Z", // from the line
		"log.level":  "info",
		"message":    fmt.Sprintf(lineText, seq),
		"host.name":  fmt.Sprintf("p%d", seq%4),
		"log.offset": float64(seq / 4),
		"event.id":   h.ID,
	}
	for path, w := range want {
		if got := get(h.Source, path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	if created, _ := get(h.Source, "event.created").(string); created == "" {
		t.Errorf("no event.created (the read time) in %v", h.Source)
	}
	if h.Version != version {
		t.Errorf("_version %d, want %d", h.Version, version)
	}
	// The mapping is the template's: log.level a keyword, message text.
	var m map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	testkit.ES(t, "GET", "/"+index+"/_mapping", "", &m)
	props := m[index].Mappings
	if typ := get(props, "properties.log.properties.level.type"); typ != "keyword" {
		t.Errorf("log.level is mapped as %v, want keyword", typ)
	}
	if typ := get(props, "properties.message.type"); typ != "text" {
		t.Errorf("message is mapped as %v, want text", typ)
	}
}

// resetToEarliest commits offset 0 for every partition of topic as group,
// from outside the group. Kafka takes such a commit only while the group
// has no member: the transfer stopped just before may still be leaving it,
// so a refused commit is tried again every 500 ms for up to a minute.
func resetToEarliest(t *testing.T, group, topic string, parts int32) {
	t.Helper()
	cl := newKafkaClient(t)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var offsets kadm.Offsets
	for p := int32(0); p < parts; p++ {
		offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: 0, LeaderEpoch: -1})
	}
	for stop := time.Now().Add(time.Minute); ; {
		err := adm.CommitAllOffsets(context.Background(), group, offsets)
		if err == nil {
			return
		}
		if time.Now().After(stop) {
			t.Fatalf("reset group %s on %s to the earliest offsets: %v", group, topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// A record whose field type conflicts with the mapping goes to the
// dead-letter index with its reason; the rest are indexed and the
// partition's offset moves past it.
func TestMappingConflictIsDeadLettered(t *testing.T) {
	testkit.Integration(t)
	topic, group := testkit.Unique("xfer-dl"), testkit.Unique("xfer-dl-group")
	createTopic(t, topic, 1)
	produce(t, topic, 1, 0, 5)
	bad := `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"bad offset","log":{"offset":"not-a-number"},"event":{"id":"` + topic + `-bad"}}`
	sendRaw(t, topic, bad)
	produceAfter(t, topic, 6, 4) // offsets 6..9

	stop := startTransfer(t, testConfig(testkit.ESURL, topic, group))
	waitCommitted(t, group, topic, 1, 10, 2*time.Minute)
	stop()
	if n := testkit.ESCount(t, topic+"-*"); n != 9 {
		t.Fatalf("%s holds %d documents, want the 9 good ones", topic+"-*", n)
	}
	testkit.ESCount(t, "deadletter-*")
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	testkit.ES(t, "POST", "/deadletter-*/_search", fmt.Sprintf(`{"query":{"term":{"kafka.topic":%q}}}`, topic), &r)
	if len(r.Hits.Hits) != 1 {
		t.Fatalf("%d dead letters of topic %s, want 1", len(r.Hits.Hits), topic)
	}
	dl := r.Hits.Hits[0]
	for path, want := range map[string]any{
		"event.original": bad, "kafka.offset": 5.0, "kafka.partition": 0.0,
		"error.type": "document_parsing_exception", "brun.index": topic + "-" + lineDay,
	} {
		if got := get(dl.Source, path); got != want {
			t.Errorf("dead letter %s = %#v, want %#v", path, got, want)
		}
	}
	if msg, _ := get(dl.Source, "error.message").(string); !strings.Contains(msg, "log.offset") {
		t.Errorf("error.message %q does not name the field log.offset", msg)
	}
	if dl.ID != topic+"-bad" {
		t.Errorf("dead letter _id %q, want the record's event.id", dl.ID)
	}
}

// sendRaw sends value as one record to partition 0 of topic.
func sendRaw(t *testing.T, topic, value string) {
	t.Helper()
	cl := newKafkaClient(t)
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// produceAfter sends n more events of a one-partition topic, the first at
// offset from.
func produceAfter(t *testing.T, topic string, from, n int) {
	t.Helper()
	cl := newKafkaClient(t)
	defer cl.Close()
	for i := from; i < from+n; i++ {
		v := fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":%q,"event":{"id":"%s-%d"}}`, fmt.Sprintf(lineText, i), topic, i)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

// With no transfer.topics, a job put in etcd makes its topic consumed,
// without a restart.
func TestJobTopicIsFollowedFromEtcd(t *testing.T) {
	testkit.Integration(t)
	topic, group := testkit.Unique("xfer-job"), testkit.Unique("xfer-job-group")
	prefix := "/" + testkit.Unique("xfer") + "/"
	createTopic(t, topic, 2)
	produce(t, topic, 2, 0, 1000)
	cfg := testConfig(testkit.ESURL, topic, group)
	cfg.Transfer.Topics = nil
	cfg.Etcd.Prefix = prefix
	cli, err := etcdx.New(cfg.Etcd)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, cli, nil, nil) }()
	defer func() { cancel(); <-done }()

	spec, _ := json.Marshal(map[string]string{"path": "/var/log/app.log", "topic": topic})
	testkit.Etcdctl(t, "put", prefix+"job/some-agent/app", string(spec))
	waitCommitted(t, group, topic, 2, 1000, 2*time.Minute)
	if n := testkit.ESCount(t, topic+"-*"); n != 1000 {
		t.Fatalf("%s holds %d documents, want 1000", topic+"-*", n)
	}
	testkit.Etcdctl(t, "del", "--prefix", prefix)
}
