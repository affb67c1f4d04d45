package collector

import (
	"context"
	"os"
	"path/filepath"
	"sync"
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
	DataDir     string // the registry lives in DataDir/agent
	Brokers     []string
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
	host    string
	reg     *Registry
	lines   chan *Record
	sink    sink
	allow   []string
	log     *logrus.Entry
}

// New opens the offset registry. It does no network I/O.
func New(cfg Config) (*Collector, error) {
	reg, err := OpenRegistry(filepath.Join(cfg.DataDir, "agent"))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	lines := make(chan *Record, cfg.ChanMsgSize)
	log := logging.For("collector")
	var out sink
	if cfg.Handoff != nil {
		out = &handoffSink{in: lines, q: cfg.Handoff, log: logging.For("handoff")}
	} else {
		out = newProducer(cfg.Producer, lines, logging.For("producer"))
	}
	return &Collector{
		agentID: cfg.AgentID,
		host:    host,
		reg:     reg,
		lines:   lines,
		sink:    out,
		allow:   cfg.Allow,
		log:     log,
	}, nil
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
		for {
			select {
			case <-t.C:
				if err := c.reg.Flush(); err != nil {
					c.log.Error(err)
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

// Registry gives read access to saved offsets (status reporting, tests).
func (c *Collector) Registry() *Registry { return c.reg }

// Job is a running tail job.
type Job struct {
	cancel context.CancelFunc
	done   chan struct{}
	t      *tailJob
}

// Stop ends the job and waits until its reader has closed its file. Lines
// it handed over before are still acked by the producer.
func (j *Job) Stop() {
	j.cancel()
	<-j.done
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

// allowed reports whether agent.allow lets the agent read path (after
// following symlinks, so a link can't lead outside).
func (c *Collector) allowed(path string) bool {
	if len(c.allow) == 0 {
		return true
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	return MatchAny(c.allow, path) && MatchAny(c.allow, real)
}

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
