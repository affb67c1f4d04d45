package collector

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"brun/base/metrics"
	"brun/servers/job"
	"brun/servers/status"
)

// scanInterval is how often a job looks for new files at its path or glob.
const scanInterval = time.Second

// tailJob runs one job: it finds the files its path names (re-scanning a
// glob for new ones) and runs one harvester per file, identified by device
// and inode, so a renamed file keeps its reader and its offset.
type tailJob struct {
	name  string
	spec  job.Spec
	c     *Collector
	codec codec
	log   *logrus.Entry

	lines, bytes, acked atomic.Int64
	mLines, mBytes      prometheus.Counter
	mSent, mAcked       prometheus.Counter

	mu    sync.Mutex
	state string // status.Running / Waiting / Error
	err   string
	files map[fileKey]*harvester
}

type fileKey struct{ dev, ino uint64 }

func newTailJob(name string, spec job.Spec, c *Collector) *tailJob {
	return &tailJob{
		name: name, spec: spec, c: c, codec: codecFor(spec.Encoding),
		log:    c.log.WithFields(logrus.Fields{"job": name, "path": spec.Path, "topic": spec.Topic}),
		mLines: metrics.LinesRead.WithLabelValues(name), mBytes: metrics.BytesRead.WithLabelValues(name),
		mSent: metrics.EventsSent.WithLabelValues(spec.Topic), mAcked: metrics.EventsAcked.WithLabelValues(spec.Topic),
		state: status.Waiting, files: map[fileKey]*harvester{},
	}
}

// run scans for files until ctx ends, then waits for every harvester.
func (t *tailJob) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(scanInterval)
	defer tick.Stop()
	var lastErr string
	for {
		if err := t.scan(ctx, &wg); err != nil {
			if err.Error() != lastErr {
				t.log.Error(err)
				lastErr = err.Error()
			}
		} else {
			lastErr = ""
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// scan starts a harvester for each file the job names that has none and
// has something left to read.
func (t *tailJob) scan(ctx context.Context, wg *sync.WaitGroup) error {
	paths := []string{t.spec.Path}
	if t.spec.IsGlob() {
		paths, _ = filepath.Glob(t.spec.Path) // the pattern was validated
		sort.Strings(paths)
	}
	var firstErr error
	found := 0
	for _, p := range paths {
		if t.excluded(p) {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
				firstErr = err
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if !t.c.allowed(p) {
			if firstErr == nil {
				firstErr = errors.New("agent.allow: " + p + " is outside the allowed paths; not read")
			}
			continue
		}
		found++
		dev, ino := fileIdentity(fi)
		k := fileKey{dev, ino}
		t.mu.Lock()
		_, running := t.files[k]
		t.mu.Unlock()
		if running {
			continue
		}
		// A glob keeps matching rotated files that were read to their end:
		// open them again only when they grew.
		if t.spec.IsGlob() {
			if off, ok := t.c.reg.Offset(t.name, dev, ino); ok && off == fi.Size() {
				continue
			}
		}
		f, err := os.Open(p)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		h := &harvester{t: t, path: p, f: f, key: k, primary: !t.spec.IsGlob()}
		t.mu.Lock()
		t.files[k] = h
		t.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			h.run(ctx)
			t.mu.Lock()
			delete(t.files, k)
			t.mu.Unlock()
		}()
	}
	t.setState(found, firstErr)
	return firstErr
}

func (t *tailJob) setState(found int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.state
	switch {
	case err != nil:
		t.state, t.err = status.Error, err.Error()
	case found == 0 && len(t.files) == 0:
		t.state, t.err = status.Waiting, ""
	default:
		t.state, t.err = status.Running, ""
	}
	if t.state == status.Waiting && prev != status.Waiting {
		t.log.Infof("waiting for %s to exist", t.spec.Path)
	}
}

func (t *tailJob) excluded(path string) bool {
	for _, g := range t.spec.Exclude {
		if ok, _ := filepath.Match(g, path); ok {
			return true
		}
		if ok, _ := filepath.Match(g, filepath.Base(path)); ok {
			return true
		}
	}
	return false
}

// status reports the job's state and its files.
func (t *tailJob) status() status.Job {
	t.mu.Lock()
	s := status.Job{Name: t.name, State: t.state, Error: t.err, Path: t.spec.Path, Topic: t.spec.Topic}
	hs := make([]*harvester, 0, len(t.files))
	for _, h := range t.files {
		hs = append(hs, h)
	}
	t.mu.Unlock()
	s.Lines, s.Bytes, s.Acked = t.lines.Load(), t.bytes.Load(), t.acked.Load()
	for _, h := range hs {
		s.Files = append(s.Files, h.status())
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	return s
}
