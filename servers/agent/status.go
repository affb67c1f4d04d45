package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/metrics"
	"brun/servers/scheduler"
	"brun/servers/status"
)

// statusInterval is how often the agent writes its status to etcd.
const statusInterval = 5 * time.Second

// reportStatus writes <prefix>status/<id> every statusInterval, under the
// registration's lease, until ctx ends. It also updates the jobs gauge.
func reportStatus(ctx context.Context, cli *clientv3.Client, key, id string, reg *registrar, sched *scheduler.Scheduler, log *logrus.Entry) {
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		st := status.Agent{ID: id, Updated: time.Now().UTC(), Jobs: sched.Status()}
		counts := map[string]float64{}
		for _, j := range st.Jobs {
			counts[j.State]++
		}
		for _, s := range []string{status.Running, status.Waiting, status.Invalid, status.Forbidden, status.Error} {
			metrics.Jobs.WithLabelValues(s).Set(counts[s])
		}
		fileMetrics(st.Jobs, time.Now())
		lease := reg.Lease()
		if lease == 0 {
			continue // not registered: a status without a lease would outlive the agent
		}
		value, _ := json.Marshal(st)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cli.Put(pctx, key, string(value), clientv3.WithLease(lease))
		cancel()
		if err != nil && ctx.Err() == nil && err.Error() != lastErr {
			log.Warnf("write status %s: %v", key, err)
			lastErr = err.Error()
		} else if err == nil {
			lastErr = ""
		}
	}
}

// fileMetrics sets the per-file series from the jobs' status: the old
// series go, so a file no longer read drops out.
func fileMetrics(jobs []status.Job, now time.Time) {
	metrics.FileLag.Reset()
	metrics.FileOldestUnacked.Reset()
	open := 0
	for _, j := range jobs {
		for _, f := range j.Files {
			open++
			metrics.FileLag.WithLabelValues(j.Name, f.Path).Set(float64(f.Lag))
			age := 0.0
			if !f.OldestUnacked.IsZero() {
				age = max(now.Sub(f.OldestUnacked).Seconds(), 0)
			}
			metrics.FileOldestUnacked.WithLabelValues(j.Name, f.Path).Set(age)
		}
	}
	metrics.OpenFiles.Set(float64(open))
}
