package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"brun/base/metrics"
	"brun/servers/job"
	"brun/servers/status"
)

const (
	// scanInterval is how often a job looks for new files at its path or
	// glob. A glob whose scans find nothing new is scanned less often,
	// twice as long each time up to maxScanInterval (a scan stats every
	// file it matches: a thousand quiet files cost a thousand stats a
	// second otherwise); a scan that finds a new file starts over.
	scanInterval    = time.Second
	maxScanInterval = 4 * time.Second
	// scanPause: after a scan that took d, the next waits scanPause×d (at
	// least scanInterval): a job spends at most a tenth of a core globbing.
	scanPause = 10
	// maxOpenPerJob bounds the files one job reads at once (each holds a
	// descriptor and a buffer). More files matching wait for a reader to
	// finish; the job's status says so.
	maxOpenPerJob = 1024
)

// tailJob runs one job: it finds the files its path names (re-scanning a
// glob for new ones) and runs one harvester per file, identified by device
// and inode, so a renamed file keeps its reader and its offset. It gives
// each harvester the file's cursor and the job's harvestConfig, and
// reads its status from the harvester's published view.
type tailJob struct {
	name   string
	spec   job.Spec
	c      *Collector
	log    *logrus.Entry
	counts jobCounters
	hc     harvestConfig // what every harvester of the job is given

	mu    sync.Mutex
	state string // status.Running / Waiting / Error
	err   string
	files map[fileKey]*harvester
}

type fileKey struct{ dev, ino uint64 }

func newTailJob(name string, spec job.Spec, c *Collector) *tailJob {
	t := &tailJob{
		name: name, spec: spec, c: c,
		log:   c.log.WithFields(logrus.Fields{"job": name, "path": spec.Path, "topic": spec.Topic}),
		state: status.Waiting, files: map[fileKey]*harvester{},
	}
	t.counts.mLines, t.counts.mBytes = metrics.LinesRead.WithLabelValues(name), metrics.BytesRead.WithLabelValues(name)
	t.counts.mSent, t.counts.mAcked = metrics.EventsSent.WithLabelValues(spec.Topic), metrics.EventsAcked.WithLabelValues(spec.Topic)
	t.hc = harvestConfig{
		spec:   spec,
		codec:  codecFor(spec.Encoding),
		src:    origin{host: c.host, agentID: c.agentID, job: name},
		out:    output{lines: c.lines, maxRecord: c.maxRecord},
		counts: &t.counts,
		allow:  c.Allow,
		log:    t.log,
	}
	return t
}

// run scans for files until ctx ends, then waits for every harvester. A
// scan that takes long (a glob over a large tree) makes the next one wait
// scanPause times as long, so that no job's globbing starves the agent.
func (t *tailJob) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var lastErr string
	interval := scanInterval
	for {
		began := time.Now()
		started, err := t.scan(ctx, &wg)
		if err != nil {
			if err.Error() != lastErr {
				t.log.Error(err)
				lastErr = err.Error()
			}
		} else {
			lastErr = ""
		}
		if started > 0 || !t.spec.IsGlob() {
			interval = scanInterval
		} else {
			interval = min(2*interval, maxScanInterval)
		}
		wait := max(interval, scanPause*time.Since(began))
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return
		}
	}
}

// scan starts a harvester for each file the job names that has none and
// has something left to read. Files are opened with openChecked: a file
// outside agent.allow once its links are followed, or one that is not a
// regular file of a real filesystem, is closed unread and the job's
// status says why. It returns how many harvesters it started, and early
// when ctx ends.
func (t *tailJob) scan(ctx context.Context, wg *sync.WaitGroup) (started int, err error) {
	glob := t.spec.IsGlob()
	paths := []string{t.spec.Path}
	if glob {
		paths, _ = filepath.Glob(t.spec.Path) // the pattern was validated
		sort.Strings(paths)
	}
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	found := 0
	for _, p := range paths {
		if ctx.Err() != nil {
			return started, nil
		}
		if t.excluded(p) {
			continue
		}
		// Metadata only, to skip files already read: nothing is opened yet.
		fi, err := os.Stat(p)
		if err != nil {
			if !isNotExist(err) {
				fail(err)
			}
			continue
		}
		if glob && !fi.Mode().IsRegular() {
			continue // a glob also matches directories and the like: not asked for by name
		}
		if t.running(keyOf(fi)) {
			found++
			continue
		}
		if t.open() >= maxOpenPerJob {
			fail(fmt.Errorf("%s matches more files than a job reads at once (%d); the others wait for one to be done", t.spec.Path, maxOpenPerJob))
			break
		}
		// A glob keeps matching rotated files that were read to their end:
		// open them again only when they grew.
		if glob {
			dev, ino := fileIdentity(fi)
			if off, ok := t.c.reg.Offset(t.name, dev, ino); ok && off == fi.Size() {
				found++
				continue
			}
		}
		f, real, err := openChecked(p, t.c.Allow())
		if err != nil {
			if !isNotExist(err) {
				fail(err)
			}
			continue
		}
		// The file opened is the one to key by: the path may name another
		// by now.
		ofi, err := f.Stat()
		if err != nil {
			f.Close()
			fail(err)
			continue
		}
		k := keyOf(ofi)
		found++
		if t.running(k) {
			f.Close()
			continue
		}
		if real != p {
			t.log.Debugf("%s is %s", p, real)
		}
		h := newHarvester(t.hc, newCursor(t.c.reg, t.name, p, k), p, f, !glob)
		t.mu.Lock()
		t.files[k] = h
		t.mu.Unlock()
		started++
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
	return started, firstErr
}

func keyOf(fi os.FileInfo) fileKey {
	dev, ino := fileIdentity(fi)
	return fileKey{dev, ino}
}

// open returns how many files the job reads now.
func (t *tailJob) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.files)
}

func (t *tailJob) running(k fileKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.files[k]
	return ok
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

// excluded reports whether the job's exclude names path.
func (t *tailJob) excluded(path string) bool { return excludedBy(t.spec.Exclude, path) }

// excludedBy reports whether one of the globs matches path, or its base
// name.
func excludedBy(globs []string, path string) bool {
	for _, g := range globs {
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
	s.Lines, s.Bytes, s.Acked = t.counts.lines.Load(), t.counts.bytes.Load(), t.counts.acked.Load()
	for _, h := range hs {
		s.Files = append(s.Files, h.status())
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	return s
}
