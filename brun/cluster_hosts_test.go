package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"brun/base/testkit"
)

// Fault scenarios that take the agents' hosts off the network, alone and
// together with every other fault (cluster_test.go has the single faults).

// outage is how long a host stays cut off and Elasticsearch stopped: the
// issue's minute, far beyond the agents' lease (their registrations
// expire) and the transfers' bulk retries.
const outage = 60 * time.Second

// Cut agent 1's host off the network for a minute while all three write:
// its registration expires and the console shows it dead, the other two
// agents' lines keep arriving, and once the host is back the agent
// registers again, the console shows it alive, and every line it wrote
// meanwhile arrives once.
func TestClusterHostCutOff(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	a := p.agents[0]
	if a.host == nil {
		t.Skip("agents on hosts of their own need network namespaces: " + testkit.NetnsAvailable())
	}
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the fault")
	p.waitAlive(a, true, time.Minute)

	a.host.Cut(t)
	t.Cleanup(func() { a.host.Restore(t) })
	cutAt := time.Now()
	p.waitRegistered(a, false, time.Minute)
	t.Logf("agent %s's registration expired %v after the cut", a.id, time.Since(cutAt).Round(time.Second))
	p.waitAlive(a, false, 30*time.Second)
	others := p.agents[1:]
	p.waitStreamsFlowing(others, "from the other agents while "+a.id+" is cut off")
	time.Sleep(time.Until(cutAt.Add(outage))) // the outage's length, not a wait for anything
	if got, before := p.countStream(a.main), p.streamWritten(a.main); got >= before {
		t.Errorf("%d of %s's %d lines stored while its host was cut off; the cut did not cut", got, a.id, before)
	}

	a.host.Restore(t)
	restoredAt := time.Now()
	p.waitRegistered(a, true, 2*time.Minute)
	p.waitAlive(a, true, time.Minute)
	t.Logf("agent %s registered again %v after its host came back", a.id, time.Since(restoredAt).Round(time.Second))
	p.waitFlowing("with " + a.id + " back")
	t.Logf("every line stored %v after the host came back", time.Since(restoredAt).Round(time.Second))
	stop()
	p.checkExactlyOnce(3 * time.Minute)
}

// Every fault at once: Elasticsearch stopped for a minute, and within it
// the Kafka node leading the fullest partition killed, the etcd leader
// killed with a job put during the election, the busiest transfer killed
// and agent 3's host cut off. The two agents still connected go on
// shipping into Kafka while nothing reaches Elasticsearch; then everything
// comes back and every line arrives once.
func TestClusterAllFaultsAtOnce(t *testing.T) {
	c := testkit.ClusterIntegration(t)
	p := startClusterPipeline(t, c, 3, 2)
	cut := p.agents[2]
	if cut.host == nil {
		t.Skip("agents on hosts of their own need network namespaces: " + testkit.NetnsAvailable())
	}
	stop := p.writing(t)
	p.waitCount(300, 2*time.Minute, "lines flowing before the faults")
	p.waitBothTransfersHold()
	parts := p.dataPartitions()
	kafkaLeader := testkit.ClusterSh(t, "kafka-leader", p.topic, fmt.Sprint(parts[0]))
	etcdLeader := testkit.ClusterSh(t, "etcd-leader")
	victim := p.busiestTransfer(parts)

	testkit.ClusterSh(t, "stop", "es-1")
	t.Cleanup(func() { testkit.ClusterShErr("start", "es-1") })
	stoppedAt := time.Now()
	t.Logf("es-1 stopped; %d records in the topic", p.kafkaRecords())
	p.waitTransferRetrying()

	testkit.ClusterSh(t, "kill", kafkaLeader)
	t.Cleanup(func() { testkit.ClusterShErr("start", kafkaLeader) })
	t.Logf("%s killed (leader of partition %d) %v into the outage", kafkaLeader, parts[0], time.Since(stoppedAt).Round(time.Second))

	extra := p.newStream("extra")
	p.appendTo(extra, 500)
	testkit.ClusterSh(t, "kill", etcdLeader)
	t.Cleanup(func() { testkit.ClusterShErr("start", etcdLeader) })
	p.putJob(p.agents[0].id, "extra", extra.path, time.Minute)
	t.Logf("%s killed (etcd leader) and a job put %v into the outage", etcdLeader, time.Since(stoppedAt).Round(time.Second))

	p.transfers[victim].Kill9()
	t.Logf("transfer %d killed %v into the outage", victim+1, time.Since(stoppedAt).Round(time.Second))

	cut.host.Cut(t)
	t.Cleanup(func() { cut.host.Restore(t) })
	t.Logf("%s's host cut off %v into the outage", cut.id, time.Since(stoppedAt).Round(time.Second))

	p.agents[0].proc.WaitLog(time.Minute, "reading "+extra.path)
	p.appendTo(extra, 500)
	before := p.kafkaRecords()
	testkit.WaitFor(t, time.Minute, "the connected agents shipping into Kafka during the outage", func() bool {
		return p.kafkaRecords() > before+500
	})
	p.waitRegistered(cut, false, time.Minute)
	p.waitAlive(cut, false, 30*time.Second)
	t.Logf("%s's registration gone and the console shows it dead %v into the outage", cut.id, time.Since(stoppedAt).Round(time.Second))
	time.Sleep(time.Until(stoppedAt.Add(outage))) // the outage's length, not a wait for anything

	testkit.ClusterSh(t, "start", "es-1")
	t.Logf("es-1 answering again %v after it stopped", time.Since(stoppedAt).Round(time.Second))
	testkit.ClusterSh(t, "start", kafkaLeader)
	testkit.ClusterSh(t, "start", etcdLeader)
	p.transfers[victim] = testkit.StartBrun(t, p.tconfs[victim])
	cut.host.Restore(t)
	endedAt := time.Now()
	t.Logf("everything back %v after es-1 stopped; %d lines written, %d records in the topic",
		time.Since(stoppedAt).Round(time.Second), p.written(), p.kafkaRecords())

	p.waitRegistered(cut, true, 2*time.Minute)
	p.waitAlive(cut, true, time.Minute)
	p.waitFlowing("after every fault")
	t.Logf("every line stored %v after the faults ended", time.Since(endedAt).Round(time.Second))
	stop()
	p.checkExactlyOnce(3 * time.Minute)
	for _, a := range p.agents {
		p.waitRegistered(a, true, 30*time.Second)
	}
}

// waitBothTransfersHold waits until each transfer holds partitions.
func (p *clusterPipeline) waitBothTransfersHold() {
	p.t.Helper()
	testkit.WaitFor(p.t, 2*time.Minute, "every transfer holding partitions", func() bool {
		for _, tr := range p.transfers {
			if len(ownedPartitions(tr.Logs.String())) == 0 {
				return false
			}
		}
		return true
	})
}

// busiestTransfer returns the index of the transfer holding the most of
// parts (the partitions that carry lines).
func (p *clusterPipeline) busiestTransfer(parts []int32) int {
	victim, most := 0, -1
	for i, tr := range p.transfers {
		own := ownedPartitions(tr.Logs.String())
		n := 0
		for _, part := range parts {
			if own[part] {
				n++
			}
		}
		if n > most {
			victim, most = i, n
		}
	}
	p.t.Logf("partitions holding lines %v; transfer %d holds %d of them (%v)", parts, victim+1, most,
		ownedPartitions(p.transfers[victim].Logs.String()))
	return victim
}

// waitTransferRetrying waits until a transfer has logged a failed bulk
// request, the sign that Elasticsearch is gone for it.
func (p *clusterPipeline) waitTransferRetrying() {
	p.t.Helper()
	testkit.WaitFor(p.t, 2*time.Minute, "a transfer retrying a bulk request", func() bool {
		for _, tr := range p.transfers {
			if strings.Contains(tr.Logs.String(), "documents failed (attempt") {
				return true
			}
		}
		return false
	})
}

// waitRegistered waits until a's registration key is there (want) or gone.
// etcdctl failing (an election) counts as not known yet.
func (p *clusterPipeline) waitRegistered(a *clusterAgent, want bool, timeout time.Duration) {
	p.t.Helper()
	key := p.prefix + "agent/" + a.id
	what := "the registration " + key + " to expire"
	if want {
		what = "the registration " + key
	}
	testkit.WaitFor(p.t, timeout, what, func() bool {
		cmd := exec.Command("etcdctl", "--endpoints="+p.c.Etcd, "--command-timeout=3s", "get", key, "--print-value-only")
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		out, err := cmd.Output()
		if err != nil {
			return false
		}
		return (strings.TrimSpace(string(out)) != "") == want
	})
}

// waitAlive waits until the console shows a alive (want) or dead (an
// agent whose keys are all gone is not listed, which is dead too). An
// answer other than 200 (etcd electing a leader) counts as not known yet.
func (p *clusterPipeline) waitAlive(a *clusterAgent, want bool, timeout time.Duration) {
	p.t.Helper()
	testkit.WaitFor(p.t, timeout, fmt.Sprintf("the console to show %s alive=%v", a.id, want), func() bool {
		agents, err := p.consoleAgents()
		if err != nil {
			return false
		}
		for _, c := range agents {
			if c.ID == a.id {
				return c.Alive == want
			}
		}
		return !want
	})
}

// consoleAgents is the console's /api/agents.
func (p *clusterPipeline) consoleAgents() ([]consoleAgent, error) {
	req, err := http.NewRequest("GET", p.console.base+"/api/agents", nil)
	if err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(p.console.tokenFile)
	if err != nil {
		return nil, err // the console is not up yet
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return nil, errors.New(res.Status)
	}
	var agents []consoleAgent
	return agents, json.Unmarshal(data, &agents)
}

// countStream is the number of documents of s's file.
func (p *clusterPipeline) countStream(s *lineStream) int {
	p.t.Helper()
	index := p.topic + "-*"
	testkit.ESAt(p.t, p.c.ES, "POST", "/"+index+"/_refresh?allow_no_indices=true", "", nil)
	q, _ := json.Marshal(map[string]any{"query": map[string]any{"term": map[string]any{"log.file.path": s.path}}})
	var r struct {
		Count int `json:"count"`
	}
	testkit.ESAt(p.t, p.c.ES, "POST", "/"+index+"/_count?allow_no_indices=true", string(q), &r)
	return r.Count
}

// streamWritten is the number of lines appended to s so far.
func (p *clusterPipeline) streamWritten(s *lineStream) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.written
}

// waitStreamsFlowing waits until the lines written so far to the main
// files of agents are stored, and then those written meanwhile.
func (p *clusterPipeline) waitStreamsFlowing(agents []*clusterAgent, state string) {
	p.t.Helper()
	for round := 0; round < 2; round++ {
		for _, a := range agents {
			want := p.streamWritten(a.main)
			testkit.WaitFor(p.t, 3*time.Minute, fmt.Sprintf("%d lines of %s stored %s", want, a.main.name, state), func() bool {
				return p.countStream(a.main) >= want
			})
		}
	}
}
