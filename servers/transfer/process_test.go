package transfer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brun/base/testkit"
)

// Tests of the transfer as a real process (bin/brun, or $BRUN_BIN):
// killed with SIGKILL, and cut off from Elasticsearch for 60 seconds.

// writeTransferConf writes a transfer-only ini for topic and group.
func writeTransferConf(t *testing.T, esURL, topic, group string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "brun.ini")
	ini := fmt.Sprintf(`
[brun]
roles = transfer
data.dir = %s/data
metrics.listen = 127.0.0.1:0
[etcd]
endpoints = %s
[kafka]
endpoints = %s
[es]
endpoints = %s
nums = 2
replicas = 0
[transfer]
topics = %s
group = %s
[log]
dir =
level = info
`, dir, testkit.EtcdAddr, testkit.KafkaAddr, esURL, topic, group)
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// SIGKILL mid-stream, then a restart: exactly every event, once.
func TestKill9MidStream(t *testing.T) {
	testkit.Integration(t)
	const total, parts = 100000, 4
	topic, group := testkit.Unique("xfer-kill"), testkit.Unique("xfer-kill-group")
	createTopic(t, topic, parts)
	produce(t, topic, parts, 0, total)
	conf := writeTransferConf(t, testkit.ESURL, topic, group)

	p := testkit.StartBrun(t, conf)
	// Kill once something is committed, so the restart resumes from a
	// watermark and not from the beginning.
	testkit.WaitFor(t, 2*time.Minute, "5,000 documents and a first commit", func() bool {
		if testkit.ESCount(t, topic+"-*") < 5000 {
			return false
		}
		for _, c := range committed(t, group, topic, parts) {
			if c > 0 {
				return true
			}
		}
		return false
	})
	p.Kill9()
	t.Logf("killed with %d documents stored, committed %v", testkit.ESCount(t, topic+"-*"), committed(t, group, topic, parts))

	p = testkit.StartBrun(t, conf)
	waitCommitted(t, group, topic, parts, total, 5*time.Minute)
	if n := testkit.ESCount(t, topic+"-*"); n != total {
		t.Fatalf("%s holds %d documents after kill -9 and restart, want exactly %d", topic+"-*", n, total)
	}
	p.Stop(30 * time.Second)
}

// Elasticsearch unreachable for 60 s mid-stream: nothing is committed
// that is not stored, the transfer resumes by itself, and every event is
// stored exactly once.
func TestElasticsearchOutage(t *testing.T) {
	testkit.Integration(t)
	const total, parts = 100000, 4
	topic, group := testkit.Unique("xfer-down"), testkit.Unique("xfer-down-group")
	createTopic(t, topic, parts)
	produce(t, topic, parts, 0, total/2)
	px := newProxy(t, "127.0.0.1:9200")
	conf := writeTransferConf(t, "http://"+px.addr, topic, group)

	p := testkit.StartBrun(t, conf)
	testkit.WaitFor(t, 2*time.Minute, "the first 5,000 documents", func() bool {
		return testkit.ESCount(t, topic+"-*") >= 5000
	})
	px.cut()
	t.Logf("elasticsearch cut off with %d documents stored", testkit.ESCount(t, topic+"-*"))
	// The second half arrives while Elasticsearch is away.
	produce(t, topic, parts, total/2, total/2)
	time.Sleep(60 * time.Second)

	// Still down: every committed offset is covered by stored documents.
	// Partition k's events have host.name pk and log.offset = their Kafka
	// offset, so the documents below a committed offset c must number c.
	c := committed(t, group, topic, parts)
	stored := testkit.ESCount(t, topic+"-*")
	for k, off := range c {
		if off < 0 {
			continue
		}
		var r struct{ Count int }
		q := fmt.Sprintf(`{"query":{"bool":{"filter":[{"term":{"host.name":"p%d"}},{"range":{"log.offset":{"lt":%d}}}]}}}`, k, off)
		testkit.ES(t, "POST", "/"+topic+"-*/_count", q, &r)
		if int64(r.Count) != off {
			t.Fatalf("partition %d committed offset %d but only %d documents below it are stored", k, off, r.Count)
		}
	}
	t.Logf("after 60 s down: %d documents stored, committed %v; transfer RSS %d MiB", stored, c, p.RSS()>>20)
	if stored >= total {
		t.Fatalf("%d documents stored while elasticsearch was cut off; the outage did not happen mid-stream", stored)
	}

	px.restore(t)
	waitCommitted(t, group, topic, parts, total, 5*time.Minute)
	if n := testkit.ESCount(t, topic+"-*"); n != total {
		t.Fatalf("%s holds %d documents after the outage, want exactly %d", topic+"-*", n, total)
	}
	p.Stop(30 * time.Second)
}

// Two transfers in one group while partitions move between them: the
// second joins mid-stream, while Elasticsearch is cut off and the first
// holds documents it cannot store, then the first is killed with SIGKILL.
// Every event is stored exactly once: what a revoke or the kill left
// uncommitted is read again and overwritten under the same _id.
func TestTwoTransfersRebalanceAndKill9(t *testing.T) {
	testkit.Integration(t)
	const total, parts = 200000, 6
	topic, group := testkit.Unique("xfer-two"), testkit.Unique("xfer-two-group")
	createTopic(t, topic, parts)
	produce(t, topic, parts, 0, total)
	px := newProxy(t, "127.0.0.1:9200")

	a := testkit.StartBrun(t, writeTransferConf(t, "http://"+px.addr, topic, group))
	testkit.WaitFor(t, 2*time.Minute, "a's first 5,000 documents", func() bool {
		return testkit.ESCount(t, topic+"-*") >= 5000
	})
	px.cut()
	if stored := testkit.ESCount(t, topic+"-*"); stored >= total {
		t.Fatalf("all %d documents stored before elasticsearch was cut off; the test did not rebalance mid-stream", stored)
	}
	b := testkit.StartBrun(t, writeTransferConf(t, "http://"+px.addr, topic, group))
	b.WaitLog(2*time.Minute, "partitions assigned")
	a.Kill9()
	t.Logf("a killed holding unstored documents; committed %v", committed(t, group, topic, parts))

	// b stores its share, and a's once a's session expires.
	px.restore(t)
	waitCommitted(t, group, topic, parts, total, 5*time.Minute)
	if n := testkit.ESCount(t, topic+"-*"); n != total {
		t.Fatalf("%s holds %d documents after a rebalance and a kill -9, want exactly %d", topic+"-*", n, total)
	}
	b.Stop(30 * time.Second)
}
