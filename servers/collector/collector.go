package collector

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/logging"
	"brun/servers/handoff"
	"brun/servers/job"
	"brun/servers/status"
)

// Config is what the collector needs from brun's configuration.
type Config struct {
	AgentID     string
	DataDir     string   // the registry lives in DataDir/agent
	ChanMsgSize int      // bound of the line channel between readers and producer
	Allow       []string // agent.allow globs; empty allows every path
	Producer    ProducerConfig
	// Handoff, when not nil, replaces Kafka: records go to the transfer in
	// this process (kafka.endpoints is empty) and Producer is not used.
	Handoff *handoff.Queue
}

// sink takes records from the line channel to where they are stored, and
// acks each once it is.
type sink interface {
	// run sends until ctx ends, then waits (bounded) until every record it
	// handed on is acked or known lost, and returns. Records it never
	// handed on stay unacked: they are read again from their file after
	// a restart.
	run(ctx context.Context)
}

// Collector owns the agent's data path: the offset registry, the bounded
// line channel and the Kafka producer. Jobs are started and stopped on it
// by the scheduler; it knows nothing of etcd.
type Collector struct {
	agentID string
	host    host // what every event says of the machine
	reg     *Registry
	lines   chan *Record
	sink    sink
	// maxRecord is the largest event the sink takes (0: any); a longer
	// one is cut to fit and flagged truncated.
	maxRecord int
	// allow is agent.allow; SetAllow replaces it while the agent runs.
	allow atomic.Pointer[[]string]
	log   *logrus.Entry
}

// New opens the offset registry. It does no network I/O.
func New(cfg Config) (*Collector, error) {
	reg, err := OpenRegistry(filepath.Join(cfg.DataDir, "agent"))
	if err != nil {
		return nil, err
	}
	host := findHost(time.Now())
	lines := make(chan *Record, cfg.ChanMsgSize)
	log := logging.For("collector")
	var out sink
	maxRecord := 0
	if cfg.Handoff != nil {
		out = &handoffSink{in: lines, q: cfg.Handoff, log: logging.For("handoff")}
	} else {
		out = newProducer(cfg.Producer, lines, logging.For("producer"))
		maxRecord = cfg.Producer.maxRecordBytes()
	}
	c := &Collector{
		agentID:   cfg.AgentID,
		host:      host,
		reg:       reg,
		lines:     lines,
		sink:      out,
		maxRecord: maxRecord,
		log:       log,
	}
	c.SetAllow(cfg.Allow)
	return c, nil
}

// Run sends lines to Kafka (or hands them to the transfer) and saves
// acknowledged offsets every second until ctx ends. Cancel ctx only after
// every job is stopped: Run then drains the sink (so every record Kafka,
// or the transfer, stored is acked) and saves the offsets one last time
// before it returns.
func (c *Collector) Run(ctx context.Context) {
	flushCtx, stopFlush := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var failing string
		var logged time.Time
		for {
			select {
			case now := <-t.C:
				err := c.reg.Flush()
				switch {
				case err != nil && (err.Error() != failing || now.Sub(logged) >= time.Minute):
					// A full disk: the offsets stay in memory and are saved
					// once it has room; nothing read is lost meanwhile.
					c.log.Errorf("%v; offsets are kept in memory and saved again every second", err)
					failing, logged = err.Error(), now
				case err == nil && failing != "":
					c.log.Infof("offsets saved again to %s", c.reg.path)
					failing = ""
				}
			case <-flushCtx.Done():
				return
			}
		}
	}()
	c.sink.run(ctx)
	stopFlush()
	wg.Wait()
	if err := c.reg.Flush(); err != nil {
		c.log.Error(err)
	}
}

// stopWait bounds how long Stop waits for a job's readers. Readers look
// at their context between lines and while they wait, so they end at
// once; a read stuck in the kernel (a hung network filesystem) must not
// hold up the scheduler, the other jobs or shutdown.
const stopWait = 5 * time.Second

// Job is a running tail job.
type Job struct {
	cancel context.CancelFunc
	done   chan struct{}
	t      *tailJob
}

// Stop ends the job and waits, at most stopWait, until its readers have
// closed their files. Lines handed over before are still acked by the
// producer. A reader that does not end in time is logged and left to end
// by itself when its read returns; it hands nothing on after Stop.
func (j *Job) Stop() {
	j.cancel()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
		j.t.log.Warnf("job %s: a reader did not stop within %v (a read blocked in the kernel?); going on without it", j.t.name, stopWait)
	}
}

// Start runs a tail job for spec under name until Stop is called.
func (c *Collector) Start(name string, spec job.Spec) *Job {
	ctx, cancel := context.WithCancel(context.Background())
	t := newTailJob(name, spec, c)
	j := &Job{cancel: cancel, done: make(chan struct{}), t: t}
	go func() {
		defer close(j.done)
		t.run(ctx)
	}()
	return j
}

// Status reports the job's state, counters and files.
func (j *Job) Status() status.Job { return j.t.status() }

// MatchAny reports whether path matches one of the globs. A glob also
// matches everything below a directory it matches, so /var/log/* allows
// /var/log/nginx/access.log.
func MatchAny(globs []string, path string) bool {
	for _, g := range globs {
		for p := path; p != "/" && p != "."; p = filepath.Dir(p) {
			if ok, _ := filepath.Match(g, p); ok {
				return true
			}
		}
	}
	return false
}

// SetAllow replaces agent.allow (empty allows every path). Files are
// held to it when they are opened: a job's files already open are not,
// so a caller tightening it restarts the jobs (agent.Reload does).
func (c *Collector) SetAllow(globs []string) {
	g := slices.Clone(globs)
	c.allow.Store(&g)
}

// Allow returns agent.allow as it is now.
func (c *Collector) Allow() []string { return *c.allow.Load() }
