package agent_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"brun/base/testkit"
)

// kill -9 mid-stream, then restart: every line reaches Kafka (duplicates
// are reported: they carry the same event.id and overwrite in ES).
func TestKill9MidStreamLosesNothing(t *testing.T) {
	w := newWorld(t)
	conf := w.conf("")
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 0)
	w.putJob("app", w.job(log, w.topic))

	p := testkit.StartBrun(t, conf)
	p.WaitLog(30*time.Second, "reading "+log)
	const total = 100000
	done := make(chan struct{})
	go func() { defer close(done); wr.writeOver(t, total, 4*time.Second) }()
	time.Sleep(2 * time.Second)
	p.Kill9()
	p2 := testkit.StartBrun(t, conf)
	<-done
	events := testkit.KafkaRead(t, w.topic, total, 120*time.Second)
	dups := checkAll(t, events, total)
	t.Logf("kill -9 mid-stream: %d lines, all in kafka, %d duplicates (same event.id: overwritten in ES)", total, dups)
	p2.Stop(30 * time.Second)
}

// logrotate rotates the file every second while a writer appends, in
// "create" and "copytruncate" modes, with the agent keeping up and with
// the agent behind (Kafka frozen during the rotations, then back).
func TestLogrotateLosesNothing(t *testing.T) {
	for _, mode := range []string{"create", "copytruncate"} {
		for _, behind := range []bool{false, true} {
			name := mode
			if behind {
				name += "/behind"
			}
			t.Run(name, func(t *testing.T) { logrotateCase(t, mode, behind) })
		}
	}
}

func logrotateCase(t *testing.T, mode string, behind bool) {
	w := newWorld(t)
	conf := w.conf("")
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 0)
	rotConf := filepath.Join(w.dir, "logrotate.conf")
	os.WriteFile(rotConf, []byte(fmt.Sprintf("%s {\n  rotate 1000\n  %s\n  missingok\n  nocompress\n}\n", log, mode)), 0o644)
	state := filepath.Join(w.dir, "logrotate.state")

	w.putJob("app", w.job(log, w.topic))
	p := testkit.StartBrun(t, conf)
	p.WaitLog(30*time.Second, "reading "+log)

	var resume func()
	if behind {
		resume = pauseKafka(t)
	}
	// copytruncate itself loses what is written between its copy and its
	// truncate (logrotate(8) says so): those lines end up in neither file,
	// and no reader can see them. So in that mode the writer holds off
	// while logrotate runs; every line the files held must arrive.
	if mode == "copytruncate" {
		wr.hold = &sync.Mutex{}
	}
	const total = 30000
	done := make(chan struct{})
	go func() { defer close(done); wr.writeOver(t, total, 6*time.Second) }()
	rotations := 0
	for i := 0; i < 6; i++ {
		time.Sleep(time.Second)
		wr.pause()
		out, err := exec.Command("logrotate", "-f", "-s", state, rotConf).CombinedOutput()
		wr.resume()
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
		rotations++
	}
	<-done
	if behind {
		time.Sleep(2 * time.Second)
		resume()
	}
	events := testkit.KafkaRead(t, w.topic, total, 120*time.Second)
	dups := checkAll(t, events, total)
	t.Logf("logrotate %s (agent behind: %v): %d rotations, %d lines all in kafka, %d duplicates", mode, behind, rotations, total, dups)
	p.Stop(30 * time.Second)
}

// The real JBoss log with a multiline pattern: one event per log record,
// stack traces inside their record, text byte-exact.
func TestMultilineRealJBossLog(t *testing.T) {
	w := newWorld(t)
	initial := testkit.RealLog(t, "realworld.initial")
	appended := testkit.RealLog(t, "realworld.append")
	log := filepath.Join(w.dir, "server.log")
	os.WriteFile(log, initial, 0o644)
	const pattern = `^\d{2}:\d{2}:\d{2},\d{3} `
	w.putJob("jboss", fmt.Sprintf(`{"path": %q, "topic": %q, "multiline": {"pattern": %q, "negate": true, "match": "after", "timeout": "1s"}}`, log, w.topic, pattern))
	p := testkit.StartBrun(t, w.conf(""))
	p.WaitLog(30*time.Second, "reading "+log)
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(appended)
	f.Close()

	// The records, cut independently: a line starting with a time starts one.
	all := string(initial) + string(appended)
	start := regexp.MustCompile(pattern)
	var want []string
	for _, line := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if len(want) == 0 || start.MatchString(line) {
			want = append(want, line)
		} else {
			want[len(want)-1] += "\n" + line
		}
	}
	events := testkit.KafkaRead(t, w.topic, len(want), 60*time.Second)
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d (one per record)", len(events), len(want))
	}
	got := sortedMessages(events)
	wantSorted := append([]string(nil), want...)
	sortStrings(wantSorted)
	traces := 0
	for i := range got {
		if got[i] != wantSorted[i] {
			t.Fatalf("event text differs from the file:\n got %q\nwant %q", got[i], wantSorted[i])
		}
		if strings.Contains(got[i], "\n\tat ") {
			traces++
		}
	}
	if traces < 20 {
		t.Fatalf("%d events hold a stack trace, want at least the 20 ERROR traces", traces)
	}
	p.Stop(30 * time.Second)
}

// lnav's invalid-UTF-8 fixture ships whole: valid JSON, valid UTF-8, each
// bad byte replaced by U+FFFD, every line there.
func TestInvalidUTF8Ships(t *testing.T) {
	w := newWorld(t)
	data := testkit.RealLog(t, "logfile_invalid_utf8.0")
	log := filepath.Join(w.dir, "bad.log")
	os.WriteFile(log, data, 0o644)
	w.putJob("bad", w.job(log, w.topic))
	p := testkit.StartBrun(t, w.conf(""))
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	events := testkit.KafkaRead(t, w.topic, len(lines), 60*time.Second)
	if len(events) != len(lines) {
		t.Fatalf("%d events for %d lines", len(events), len(lines))
	}
	replaced := 0
	for _, e := range events {
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message is not UTF-8: %q", e.Message)
		}
		if strings.ContainsRune(e.Message, utf8.RuneError) {
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatal("no message carries U+FFFD: the invalid bytes went missing")
	}
	p.Stop(30 * time.Second)
}

// Kafka stopped for 60 s under load: the agent's memory stays bounded, it
// resumes by itself, and nothing is lost.
func TestKafkaDownUnderLoad(t *testing.T) {
	w := newWorld(t)
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 0)
	w.putJob("app", w.job(log, w.topic))
	p := testkit.StartBrun(t, w.conf(""))
	p.WaitLog(30*time.Second, "reading "+log)
	wr.write(t, 10000)
	testkit.KafkaRead(t, w.topic, 10000, 60*time.Second)

	stack(t, "down", "kafka")
	defer stack(t, "up", "kafka")
	const during = 300000
	var peak int64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if wr.next < 10000+during {
			wr.write(t, during/30)
		}
		peak = max(peak, p.RSS())
		time.Sleep(2 * time.Second)
	}
	stack(t, "up", "kafka")
	total := wr.next
	events := testkit.KafkaRead(t, w.topic, total, 180*time.Second)
	dups := checkAll(t, events, total)
	t.Logf("kafka down 60 s: %d lines written meanwhile, agent peak RSS %d MiB, all %d in kafka after, %d duplicates", during, peak>>20, total, dups)
	// Bounded: the line channel (10,000 here) and the ack window cap what is
	// held; 300,000 lines of 110 bytes would be 33 MB of text alone.
	if peak > 256<<20 {
		t.Fatalf("agent RSS reached %d MiB while kafka was down", peak>>20)
	}
	p.Stop(30 * time.Second)
}

// Jobs follow etcd: add, modify (offsets kept), an invalid job next to a
// good one, delete; etcd restarted: the agent registers again and ships.
func TestJobsFollowEtcd(t *testing.T) {
	w := newWorld(t)
	p := testkit.StartBrun(t, w.conf(""))
	a := filepath.Join(w.dir, "a.log")
	wa := &writer{path: a}
	wa.write(t, 100)
	w.putJob("a", w.job(a, w.topic))
	w.putJob("broken", `{"path": "relative/x.log", "topic": "t"}`)
	testkit.KafkaRead(t, w.topic, 100, 60*time.Second)
	p.WaitLog(10*time.Second, "job broken is invalid")

	// The status key shows both jobs.
	testkit.WaitFor(t, 20*time.Second, "status of both jobs", func() bool {
		out := testkit.Etcdctl(t, "get", "--print-value-only", w.prefix+"status/"+w.agentID)
		var st struct {
			Jobs []struct{ Name, State, Error string }
		}
		if json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		states := map[string]string{}
		for _, j := range st.Jobs {
			states[j.Name] = j.State
		}
		return states["a"] == "running" && states["broken"] == "invalid"
	})

	// Modify: a new topic; the same path keeps its offset, so the new topic
	// gets only new lines. Every line must be acked first, or the new job
	// would start before the last acks and send those lines again.
	w.waitStatus(20*time.Second, "job a to have 100 lines acked", func(j jobStatus) bool { return j.Name == "a" && j.Acked == 100 })
	topic2 := w.topic + "-2"
	w.putJob("a", w.job(a, topic2))
	p.WaitLogCount(20*time.Second, "starting job a", 2)
	wa.write(t, 50)
	ev2 := testkit.KafkaRead(t, topic2, 50, 60*time.Second)
	if len(ev2) != 50 {
		t.Fatalf("new topic got %d events, want the 50 new lines only", len(ev2))
	}

	// etcd restarted: the agent registers again and keeps shipping.
	agentKey := w.prefix + "agent/" + w.agentID
	stack(t, "down", "etcd")
	stack(t, "up", "etcd")
	testkit.WaitFor(t, 60*time.Second, "the agent to register again", func() bool {
		return strings.Contains(testkit.Etcdctl(t, "get", agentKey), w.agentID)
	})
	wa.write(t, 50)
	if n := len(testkit.KafkaRead(t, topic2, 100, 60*time.Second)); n != 100 {
		t.Fatalf("after etcd restarted: %d events in %s, want 100", n, topic2)
	}

	// Delete: lines appended afterwards are not shipped. A marker from
	// another job, written after them, shows the agent went on shipping.
	w.delJob("a")
	p.WaitLog(20*time.Second, "stopping job a")
	wa.write(t, 25)
	marker := filepath.Join(w.dir, "marker.log")
	os.WriteFile(marker, []byte("marker after the deleted job's lines\n"), 0o644)
	w.putJob("marker", w.job(marker, topic2))
	events := testkit.KafkaReadUntil(t, topic2, "marker after the deleted job's lines", 60*time.Second)
	if n := len(events) - 1; n != 100 {
		t.Fatalf("after delete: %d events of job a in %s, want still 100", n, topic2)
	}
	p.Stop(30 * time.Second)
}

// An agent that starts while etcd is down runs the jobs it last got from
// etcd, and follows etcd again once it is back.
func TestStartsWithCachedJobsWhileEtcdIsDown(t *testing.T) {
	w := newWorld(t)
	conf := w.conf("")
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 100)
	w.putJob("app", w.job(log, w.topic))
	p := testkit.StartBrun(t, conf)
	testkit.KafkaRead(t, w.topic, 100, 60*time.Second)
	p.Stop(30 * time.Second)

	stack(t, "down", "etcd")
	defer stack(t, "up", "etcd")
	p2 := testkit.StartBrun(t, conf)
	p2.WaitLog(30*time.Second, "running 1 job(s) from")
	wr.write(t, 100)
	if n := len(testkit.KafkaRead(t, w.topic, 200, 60*time.Second)); n < 200 {
		t.Fatalf("with etcd down: %d events, want the 100 new lines shipped too", n)
	}
	stack(t, "up", "etcd")
	testkit.WaitFor(t, 60*time.Second, "the agent to register once etcd is back", func() bool {
		return strings.Contains(testkit.Etcdctl(t, "get", w.prefix+"agent/"+w.agentID), w.agentID)
	})
	p2.Stop(30 * time.Second)
}

// A job on a file whose size does not track its content (/proc) gets
// status "error" naming the path within seconds, reads nothing, and holds
// nothing up: it is deleted, a later job ships, and SIGTERM stops brun.
func TestProcFileIsRefusedAndJobsGoOn(t *testing.T) {
	w := newWorld(t)
	p := testkit.StartBrun(t, w.conf(""))
	w.putJob("proc", w.job("/proc/loadavg", w.topic))
	st := w.waitStatus(15*time.Second, "job proc in state error", func(j jobStatus) bool { return j.Name == "proc" && j.State == "error" })
	if !strings.Contains(st.Error, "/proc/loadavg") || st.Lines != 0 {
		t.Fatalf("status of the /proc job: %+v", st)
	}
	w.delJob("proc")
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 100)
	w.putJob("app", w.job(log, w.topic))
	events := testkit.KafkaRead(t, w.topic, 100, 60*time.Second)
	checkAll(t, events, 100)
	if len(events) != 100 {
		t.Fatalf("%d events in %s, want the 100 lines of app.log and nothing of /proc/loadavg", len(events), w.topic)
	}
	p.Stop(30 * time.Second)
}

// Two jobs reading one file, to two topics and to the same topic, each
// ship every line under ids of their own.
func TestTwoJobsOnOneFileBothShip(t *testing.T) {
	w := newWorld(t)
	log := filepath.Join(w.dir, "app.log")
	wr := &writer{path: log}
	wr.write(t, 1000)
	topic2 := w.topic + "-2"
	w.putJob("one", w.job(log, w.topic))
	w.putJob("two", w.job(log, topic2))
	w.putJob("three", w.job(log, w.topic))
	p := testkit.StartBrun(t, w.conf(""))
	both := testkit.KafkaRead(t, w.topic, 2000, 60*time.Second)
	other := testkit.KafkaRead(t, topic2, 1000, 60*time.Second)
	checkAll(t, other, 1000)
	ids := map[string]bool{}
	perSeq := map[string]int{}
	for _, e := range both {
		ids[e.Event.ID] = true
		perSeq[seqRE.FindString(e.Message)]++
	}
	if len(ids) != 2000 {
		t.Fatalf("%d distinct event ids in %s for two jobs × 1000 lines, want 2000", len(ids), w.topic)
	}
	for i := 0; i < 1000; i++ {
		if n := perSeq[fmt.Sprintf("seq=%07d", i)]; n < 2 {
			t.Fatalf("line %d arrived %d time(s) in %s, want once per job", i, n, w.topic)
		}
	}
	p.Stop(30 * time.Second)
}

// Stopping revokes the registration lease: the agent's key and status
// are gone as soon as brun has exited, not a lease TTL later.
func TestStopRevokesTheLease(t *testing.T) {
	w := newWorld(t)
	p := testkit.StartBrun(t, w.conf(""))
	agentKey := w.prefix + "agent/" + w.agentID
	testkit.WaitFor(t, 30*time.Second, "the agent to register", func() bool {
		return strings.Contains(testkit.Etcdctl(t, "get", agentKey), w.agentID)
	})
	p.Stop(30 * time.Second)
	if out := testkit.Etcdctl(t, "get", "--prefix", w.prefix+"agent/"); out != "" {
		t.Fatalf("after brun exited the registration is still there:\n%s", out)
	}
	if strings.Contains(p.Logs.String(), "registering again") {
		t.Errorf("a stop was logged as a lost lease:\n%s", p.Logs.String())
	}
}
