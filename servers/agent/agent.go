package agent

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/version"
	"brun/servers/collector"
	"brun/servers/job"
	"brun/servers/scheduler"
)

// Run runs the agent role until ctx ends, then stops the tail jobs, drains
// the producer and saves the offsets before it returns.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	log := logging.For("agent")
	col, err := collector.New(collector.Config{
		AgentID:     cfg.Agent.ID,
		DataDir:     cfg.Brun.DataDir,
		Brokers:     cfg.Kafka.Endpoints,
		ChanMsgSize: cfg.Kafka.ChanMsgSize,
	})
	if err != nil {
		return err
	}
	keys := etcdx.Keys{Prefix: cfg.Etcd.Prefix}

	// The sink runs on its own context: it must outlive the tail jobs.
	sinkCtx, stopSink := context.WithCancel(context.Background())
	defer stopSink()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		col.Run(sinkCtx)
	}()
	go func() {
		defer wg.Done()
		register(ctx, cli, keys.Agent(cfg.Agent.ID), Registration{
			ID: cfg.Agent.ID, Hostname: hostname(), IP: localIP(), Version: version.Version,
			PID: os.Getpid(), Roles: cfg.Brun.Roles, StartedAt: time.Now().UTC(),
		}, log)
	}()

	sched := scheduler.New(func(name string, spec job.Spec) func() {
		return col.Start(name, spec).Stop
	}, logging.For("scheduler"))
	prefix := keys.JobsOf(cfg.Agent.ID)
	log.Infof("agent %s watching %s", cfg.Agent.ID, prefix)
	etcdx.Mirror(ctx, cli, prefix, cfg.Etcd.DialTimeout, logging.For("scheduler"), func(kv map[string][]byte) {
		byName := make(map[string][]byte, len(kv))
		for k, v := range kv {
			byName[strings.TrimPrefix(k, prefix)] = v
		}
		sched.Apply(byName)
	})

	// Sources first, then the sink.
	sched.StopAll()
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
