package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"
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
	now    func() time.Time

	// scanned is set after the first scan. During it, with start "end",
	// atStart records the size of every file found: a file the job never
	// read is first read from there. Files found later (new, or created
	// anew by rotation) are read from their start, so no line written
	// after the job started is lost. Only run's goroutine uses these.
	scanned bool
	atStart map[fileKey]int64

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
		now: time.Now,
	}
	if spec.StartAtEnd() {
		t.atStart = map[fileKey]int64{}
	}
	t.counts.mLines, t.counts.mBytes = metrics.LinesRead.WithLabelValues(name), metrics.BytesRead.WithLabelValues(name)
	t.counts.mDropped = metrics.EventsDropped.WithLabelValues(name)
	t.counts.mSent, t.counts.mAcked = metrics.EventsSent.WithLabelValues(spec.Topic), metrics.EventsAcked.WithLabelValues(spec.Topic)
	t.hc = harvestConfig{
		spec:   spec,
		codec:  codecFor(spec.Encoding),
		filter: newLineFilter(spec),
		pins:   newPins(spec, c.host.timezone),
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
		paths = globFiles(t.spec.Path)
	}
	first := !t.scanned
	now, maxAge := t.now(), t.spec.MaxAge()
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
		if first && t.atStart != nil {
			t.atStart[keyOf(fi)] = fi.Size()
		}
		if t.running(keyOf(fi)) {
			found++
			continue
		}
		if t.open() >= maxOpenPerJob {
			fail(fmt.Errorf("%s matches more files than a job reads at once (%d); the others wait for one to be done", t.spec.Path, maxOpenPerJob))
			if first && t.atStart != nil {
				continue // every file there now is still to be seen: it starts at its end too
			}
			break
		}
		dev, ino := fileIdentity(fi)
		off, saved := t.c.reg.Offset(t.name, dev, ino)
		// A glob keeps matching rotated files that were read to their end:
		// open them again only when they grew.
		if glob && saved && off == fi.Size() {
			found++
			continue
		}
		// ignore_older: a file the job never read and nobody wrote to
		// lately is not opened; one it has an offset for is read on.
		if !saved && tooOld(fi, maxAge, now) {
			found++
			continue
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
		fresh, ok := t.atStart[k] // a file the job never read starts at 0, or at its size when the job began
		if ok {
			delete(t.atStart, k)
		}
		if fresh > 0 && fresh > ofi.Size() {
			fresh = 0 // truncated since: all of it is new
		}
		h := newHarvester(t.hc, newCursor(t.c.reg, t.name, p, k, fresh), p, f, !glob)
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
	t.scanned = true
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
// name. Globs are doublestar's, as the job's path: ** matches any number
// of directories (/var/log/**/old/*).
func excludedBy(globs []string, path string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.PathMatch(g, path); ok {
			return true
		}
		if ok, _ := doublestar.PathMatch(g, filepath.Base(path)); ok {
			return true
		}
	}
	return false
}

// globFiles returns the paths glob matches, sorted. A ** segment walks
// the tree below it without following symbolic links to directories,
// which could loop or leave the tree; a symbolic link to a file is
// matched, and opening it holds it to agent.allow as any file. Other
// globs follow links as filepath.Glob does. The pattern was validated;
// unreadable directories are passed over.
func globFiles(glob string) []string {
	var opts []doublestar.GlobOption
	if hasDoubleStar(glob) {
		opts = append(opts, doublestar.WithNoFollow())
	}
	paths, _ := doublestar.FilepathGlob(glob, opts...)
	sort.Strings(paths)
	return paths
}

// hasDoubleStar reports whether one of glob's segments is **.
func hasDoubleStar(glob string) bool {
	for _, seg := range strings.Split(glob, "/") {
		if seg == "**" {
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
	s.Dropped = t.counts.dropped.Load()
	for _, h := range hs {
		s.Files = append(s.Files, h.status())
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	return s
}
