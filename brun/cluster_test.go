package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"brun/base/testkit"
)

// Fault scenarios against the cluster of `make cluster-up` (doc/cluster.md),
// run by `make test-cluster` (BRUN_CLUSTER=1). Each ships numbered lines
// from three agents through two transfers in one consumer group while a
// member fails, and ends with every line exactly once in Elasticsearch.

// linesPerTick is what each agent's file gets every 100 ms while a
// scenario runs: 300 lines a second in all.
const linesPerTick = 10

// kill -9 the Kafka node leading the partition that holds the most lines
// while the agents write, go on writing with two nodes left (in-sync
// replicas 2 of 3: produce still succeeds), start it again, go on writing.
// The node chosen leads a partition that carries lines (the fullest), not
// partition 0, which the agents' keys may leave empty.
func TestClusterKafkaLeaderKilled(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the fault")

	parts := p.dataPartitions()
	leader := testkit.ClusterSh(t, "kafka-leader", p.topic, fmt.Sprint(parts[0]))
	t.Logf("partitions holding lines %v; killing %s, leader of partition %d", parts, leader, parts[0])
	testkit.ClusterSh(t, "kill", leader)
	t.Cleanup(func() { testkit.ClusterShErr("start", leader) })
	killed := time.Now()
	p.waitFlowing("with " + leader + " killed")
	t.Logf("lines written before and after the kill stored %v after it", time.Since(killed).Round(time.Second))

	testkit.ClusterSh(t, "start", leader)
	t.Logf("%s started again %v after the kill", leader, time.Since(killed).Round(time.Second))
	p.waitFlowing("with " + leader + " back")
	stop()
	p.checkExactlyOnce(3 * time.Minute)
}

// kill -9 the transfer holding the most partitions that carry lines while
// the agents write: once the group's session of the dead member expires,
// its partitions move to the other transfer, which reads on from the last
// committed offsets (documents stored but not committed are written again
// under the same _id). Then the killed transfer starts again and takes a
// share back.
func TestClusterTransferKilled(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the fault")
	p.waitBothTransfersHold()
	victim := p.busiestTransfer(p.dataPartitions())
	survivor := p.transfers[1-victim]
	assigned := strings.Count(survivor.Logs.String(), "partitions assigned")
	t.Logf("killing transfer %d", victim+1)
	p.transfers[victim].Kill9()
	killed := time.Now()

	// The group's session timeout (transfer.session.timeout, 10 s here),
	// then a rebalance.
	survivor.WaitLogCount(3*time.Minute, "partitions assigned", assigned+1)
	t.Logf("transfer %d took over %v after the kill; it holds %v", 2-victim, time.Since(killed).Round(time.Second),
		ownedPartitions(survivor.Logs.String()))
	p.waitFlowing("with one transfer")

	p.transfers[victim] = testkit.StartBrun(t, p.tconfs[victim])
	p.transfers[victim].WaitLog(2*time.Minute, "partitions assigned")
	t.Logf("transfer %d started again and holds %v", victim+1, ownedPartitions(p.transfers[victim].Logs.String()))
	p.waitFlowing("with both transfers again")
	stop()
	p.checkExactlyOnce(3 * time.Minute)
}

// kill the etcd leader while the agents write, and at once put a job for
// a new file: the put waits out the election (etcdctl is tried again
// while it fails), the agent starts the job, and its lines arrive with the
// others; the agents' registrations are still there afterwards. Then the
// member starts again.
func TestClusterEtcdLeaderKilled(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the fault")

	extra := p.newStream("extra")
	p.appendTo(extra, 500)
	leader := testkit.ClusterSh(t, "etcd-leader")
	t.Logf("killing %s, the etcd leader", leader)
	testkit.ClusterSh(t, "kill", leader)
	t.Cleanup(func() { testkit.ClusterShErr("start", leader) })
	killed := time.Now()

	p.putJob(p.agents[0].id, "extra", extra.path, time.Minute)
	t.Logf("job put %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	p.agents[0].proc.WaitLog(time.Minute, "reading "+extra.path)
	p.appendTo(extra, 500)
	p.waitFlowing("with " + leader + " killed")
	t.Logf("new leader %s; lines written before and after the kill stored %v after it",
		testkit.ClusterSh(t, "etcd-leader"), time.Since(killed).Round(time.Second))

	testkit.ClusterSh(t, "start", leader)
	p.waitFlowing("with " + leader + " back")
	stop()
	p.checkExactlyOnce(3 * time.Minute)

	keys := testkit.EtcdctlAt(t, c.Etcd, "get", "--prefix", "--keys-only", p.prefix+"agent/")
	for _, a := range p.agents {
		if !strings.Contains(keys, p.prefix+"agent/"+a.id) {
			t.Errorf("agent %s is not registered after the election; keys:\n%s", a.id, keys)
		}
	}
}

// kill -9 Elasticsearch while the agents write: the agents go on shipping
// to Kafka, the transfers retry their bulk requests and stop consuming
// while they wait; Elasticsearch starts again once a transfer has logged
// a failed bulk request, and then every line arrives once, those whose
// bulk request Elasticsearch acknowledged before it died included (it
// syncs its translog before it answers).
func TestClusterElasticsearchKilled(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the fault")

	testkit.ClusterSh(t, "kill", "es-1")
	t.Cleanup(func() { testkit.ClusterShErr("start", "es-1") })
	killed := time.Now()
	p.waitTransferRetrying()
	t.Logf("a transfer retried a bulk request %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	testkit.ClusterSh(t, "start", "es-1")
	t.Logf("es-1 started again %v after the kill; %d lines written so far", time.Since(killed).Round(time.Second), p.written())
	p.waitFlowing("with es-1 back")
	t.Logf("lines written before, during and after the outage stored %v after the kill", time.Since(killed).Round(time.Second))
	stop()
	p.checkExactlyOnce(3 * time.Minute)
}

// writing starts appending linesPerTick lines to every agent's file every
// 100 ms; the returned stop (also called when the test ends) returns once
// the last lines are written.
func (p *clusterPipeline) writing(t *testing.T) (stop func()) {
	var once sync.Once
	halt := p.writeInBackground(linesPerTick)
	stop = func() { once.Do(halt) }
	t.Cleanup(stop)
	return stop
}

// waitFlowing waits until every line written so far is stored, and then
// every line written meanwhile: lines written in the state the test is in
// (named by state) arrive, not only lines already in Kafka before it.
func (p *clusterPipeline) waitFlowing(state string) {
	p.t.Helper()
	p.waitCount(p.written(), 3*time.Minute, "lines written so far stored "+state)
	p.waitCount(p.written(), 3*time.Minute, "lines written since stored "+state)
}
