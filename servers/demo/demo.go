// Package demo writes a demo application log and gives this host's agent
// a job for it, so that a first run of brun ships events at once, with
// nothing to set up: [demo] path, rate and topic.
//
// The job goes into etcd like any other (<prefix>job/<agent id>/demo),
// and only when that key is absent: edit or delete it like any job. The
// log is rotated by renaming at maxBytes, so the demo also shows rotation.
// It must never touch any file but demo.path and its rotated copy.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/retry"
)

const (
	// JobName is the name of the demo job in etcd.
	JobName = "demo"
	// maxBytes is the size at which the demo log is renamed to <path>.1
	// (replacing the previous copy) and started anew.
	maxBytes = 10 << 20
)

// Run puts the demo job in etcd (when absent) and appends demo.rate lines
// a second to demo.path until ctx ends. Errors are logged, not returned:
// the demo must not stop brun.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) {
	log := logging.For("demo").WithField("path", cfg.Demo.Path)
	var seeded sync.WaitGroup
	seeded.Add(1)
	go func() {
		defer seeded.Done()
		seedJob(ctx, cfg, cli, log)
	}()
	defer seeded.Wait() // the etcd client outlives Run
	if err := os.MkdirAll(filepath.Dir(cfg.Demo.Path), 0o755); err != nil {
		log.Errorf("demo.path: %v", err)
		return
	}
	w := &writer{path: cfg.Demo.Path, max: maxBytes, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	defer w.close()
	log.Infof("writing %d demo line(s) a second", cfg.Demo.Rate)
	t := time.NewTicker(time.Second / time.Duration(cfg.Demo.Rate))
	defer t.Stop()
	var lastErr string
	for {
		select {
		case now := <-t.C:
			if err := w.write(now); err != nil && err.Error() != lastErr {
				log.Errorf("demo.path: %v", err)
				lastErr = err.Error()
			}
		case <-ctx.Done():
			return
		}
	}
}

// Spec is the demo job: the demo log, its records starting with a date
// (a stack trace stays inside its record), and a static field.
func Spec(cfg *config.Config) []byte {
	b, _ := json.Marshal(map[string]any{
		"path":  cfg.Demo.Path,
		"topic": cfg.Demo.Topic,
		"multiline": map[string]any{
			"pattern": `^\d{4}-\d{2}-\d{2}`, "negate": true, "match": "after",
		},
		"fields": map[string]string{"origin": "brun-demo"},
	})
	return b
}

// seedJob creates the demo job unless the key exists, retrying until etcd
// answers.
func seedJob(ctx context.Context, cfg *config.Config, cli *clientv3.Client, log *logrus.Entry) {
	key := etcdx.Keys{Prefix: cfg.Etcd.Prefix}.Job(cfg.Agent.ID, JobName)
	retry.Do(ctx, retry.Backoff{Min: time.Second, Max: 5 * time.Second}, func() error {
		cctx, cancel := context.WithTimeout(ctx, cfg.Etcd.DialTimeout)
		defer cancel()
		res, err := cli.Txn(cctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(Spec(cfg)))).
			Commit()
		if err == nil && res.Succeeded {
			log.WithField("key", key).Info("demo job created")
		}
		return err
	}, func(err error, _ int) { log.Warnf("creating the demo job %s: %v; retrying", key, err) })
}

// writer appends demo lines, rotating the file at maxBytes.
type writer struct {
	path string
	max  int64 // rotate at this size
	f    *os.File
	size int64
	seq  int
	rng  *rand.Rand
}

func (w *writer) write(now time.Time) error {
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		w.f, w.size = f, st.Size()
	}
	w.seq++
	line := Line(now, w.seq, w.rng)
	n, err := w.f.WriteString(line)
	w.size += int64(n)
	if err != nil {
		return err
	}
	if w.size >= w.max {
		w.close()
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

var (
	paths = []string{"/api/v1/items", "/api/v1/orders", "/api/v1/users/me", "/healthz", "/api/v1/search"}
	users = []string{"alice", "bob", "carol", "dave"}
)

// Line returns one demo record, ending in a newline: mostly one INFO line
// of a request, sometimes a WARN, and now and then an ERROR followed by a
// stack trace of three lines.
func Line(now time.Time, seq int, rng *rand.Rand) string {
	ts := now.UTC().Format("2006-01-02 15:04:05.000")
	path, user := paths[rng.IntN(len(paths))], users[rng.IntN(len(users))]
	switch r := rng.IntN(100); {
	case r < 3:
		return fmt.Sprintf("%s ERROR [http-%d] c.e.api.Handler - request failed seq=%d user=%s path=%s\n"+
			"java.lang.IllegalStateException: order %d is locked\n"+
			"\tat c.e.api.OrderService.update(OrderService.java:%d)\n"+
			"\tat c.e.api.Handler.handle(Handler.java:88)\n", ts, rng.IntN(16), seq, user, path, rng.IntN(100000), 100+rng.IntN(300))
	case r < 15:
		return fmt.Sprintf("%s WARN  [http-%d] c.e.api.Handler - slow request seq=%d user=%s path=%s took=%dms\n", ts, rng.IntN(16), seq, user, path, 500+rng.IntN(2000))
	default:
		return fmt.Sprintf("%s INFO  [http-%d] c.e.api.Handler - request handled seq=%d user=%s path=%s status=200 took=%dms\n", ts, rng.IntN(16), seq, user, path, 1+rng.IntN(120))
	}
}
