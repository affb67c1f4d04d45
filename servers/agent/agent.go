package agent

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/version"
	"brun/servers/collector"
	"brun/servers/handoff"
	"brun/servers/job"
	"brun/servers/scheduler"
	"brun/servers/status"
)

// Run runs the agent role until ctx ends, then stops the tail jobs, drains
// the producer and saves the offsets before it returns. With q
// (kafka.endpoints empty) events go to the transfer of this process
// through q instead of Kafka; q is closed when Run returns.
//
// Each configuration received on reload (brun read its ini again, at a
// SIGHUP) changes what can change while the agent runs: agent.allow. A
// changed allow restarts every job, so that each file is held to it when
// opened again; offsets are kept. reload may be nil.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client, q *handoff.Queue, reload <-chan *config.Config) error {
	log := logging.For("agent")
	if q != nil {
		defer q.Close() // also when the agent fails to start: the transfer waits for it
	}
	col, err := collector.New(collector.Config{
		AgentID:     cfg.Agent.ID,
		DataDir:     cfg.Brun.DataDir,
		ChanMsgSize: cfg.Kafka.ChanMsgSize,
		Allow:       cfg.Agent.Allow,
		Producer:    collector.ProducerConfig{Kafka: cfg.Kafka, ClientID: "brun-agent-" + cfg.Agent.ID},
		Handoff:     q,
	})
	if err != nil {
		return err
	}
	if len(cfg.Agent.Allow) == 0 {
		log.Warn("agent.allow is empty: jobs may read any file this process can read")
	}
	keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}
	cache := jobCache{path: cfg.Brun.DataDir + "/agent/jobs.json"}

	// The sink runs on its own context: it must outlive the tail jobs.
	sinkCtx, stopSink := context.WithCancel(context.Background())
	defer stopSink()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		col.Run(sinkCtx)
	}()

	allow := func(p string) bool {
		globs := col.Allow()
		return len(globs) == 0 || collector.MatchAny(globs, p)
	}
	sched := scheduler.New(func(name string, spec job.Spec) scheduler.Handle {
		return col.Start(name, spec)
	}, allow, logging.For("scheduler"))
	// applyMu serialises the scheduler's callers: etcd's job changes and
	// reloads. last is the job set etcd gave last; stopped is set once the
	// jobs are stopped for good.
	var applyMu sync.Mutex
	var last map[string][]byte
	var stopped bool
	apply := func(jobs map[string][]byte) {
		applyMu.Lock()
		defer applyMu.Unlock()
		last = jobs
		sched.Apply(jobs)
	}

	reg := &registrar{cli: cli, key: keys.Agent(cfg.Agent.ID), log: log, value: status.Registration{
		ID: cfg.Agent.ID, Hostname: hostname(), IP: localIP(), Version: version.Version,
		PID: os.Getpid(), Roles: cfg.Brun.Roles, StartedAt: time.Now().UTC(),
	}}
	wg.Add(2)
	go func() {
		defer wg.Done()
		reg.run(ctx)
	}()
	go func() {
		defer wg.Done()
		reportStatus(ctx, cli, keys.Status(cfg.Agent.ID), cfg.Agent.ID, reg, sched, log)
	}()

	// Until etcd answers, run the last job set it gave us.
	if cached, err := cache.load(); err != nil {
		log.Warn(err)
	} else if cached != nil {
		log.Infof("running %d job(s) from %s until etcd answers", len(cached), cache.path)
		apply(cached)
	}
	if reload != nil {
		go func() {
			for {
				select {
				case next := <-reload:
					if slices.Equal(next.Agent.Allow, col.Allow()) {
						continue
					}
					applyMu.Lock()
					if stopped {
						applyMu.Unlock()
						return
					}
					col.SetAllow(next.Agent.Allow)
					log.Infof("agent.allow is now %q; restarting every job so that its files are held to it", next.Agent.Allow)
					sched.StopAll()
					sched.Apply(last)
					applyMu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	prefix := keys.JobsOf(cfg.Agent.ID)
	log.Infof("agent %s watching %s", cfg.Agent.ID, prefix)
	etcdx.Mirror(ctx, cli, prefix, cfg.Etcd.DialTimeout, logging.For("scheduler"), func(kv map[string][]byte) {
		byName := make(map[string][]byte, len(kv))
		for k, v := range kv {
			byName[strings.TrimPrefix(k, prefix)] = v
		}
		apply(byName)
		if err := cache.save(byName); err != nil {
			log.Warn(err)
		}
	})

	// Sources first, then the sink.
	applyMu.Lock()
	sched.StopAll()
	stopped = true
	applyMu.Unlock()
	stopSink()
	wg.Wait()
	log.Info("agent stopped; offsets saved")
	return nil
}

func localIP() string {
	ip, err := config.LocalIP()
	if err != nil {
		return ""
	}
	return ip
}
