package filestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

const (
	// Ext ends every document file's name.
	Ext = ".ndjson"
	// DayLayout names the day directories (UTC).
	DayLayout = "2006-01-02"
	// recentCapacity is how many of the last written ids are remembered to
	// skip replays. Replays come from what was written but not yet
	// acknowledged upstream: about a second of writing.
	recentCapacity = 1 << 18
	// startupTail is how much of the end of each file of the last two days
	// Open reads back to remember the ids written last.
	startupTail = 16 << 20
	// pruneEvery is how often old day directories are looked for.
	pruneEvery = time.Hour
)

// Doc is one document to store.
type Doc struct {
	Index string // the index Elasticsearch would have stored it in
	// ID is its _id. A document whose id was written recently is skipped.
	// Only ids found in the document itself as event.id are remembered
	// across restarts.
	ID     string
	Source []byte // one JSON object, without a newline
}

// Store appends documents to the day's file of their index. It is used by
// one goroutine at a time.
type Store struct {
	dir    string
	keep   time.Duration
	log    *logrus.Entry
	recent *recentIDs

	day   string
	files map[string]*os.File // index → open file of day
	// indexes keep the index of each open file; nil when it could not
	// be opened (the file is then read whole).
	indexes map[string]*indexWriter
	pruned  time.Time

	groups map[string][]byte // index → lines of one Write, reused
}

// Open prepares dir, removes day directories older than keep at now, and
// reads back the ids of the documents written last. A file whose last
// line was cut by a crash is truncated to its last complete line: that
// document was never acknowledged, so it is sent again.
//
// The documents hold lines of files only root may read, so dir and
// everything in it is private to brun's user (0700 directories, 0600
// files).
func Open(dir string, keep time.Duration, now time.Time, log *logrus.Entry) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	s := &Store{dir: dir, keep: keep, log: log, recent: newRecentIDs(recentCapacity),
		files: map[string]*os.File{}, indexes: map[string]*indexWriter{}, groups: map[string][]byte{}}
	s.prune(now)
	days, err := Days(dir)
	if err != nil {
		return nil, err
	}
	if len(days) > 2 {
		days = days[len(days)-2:]
	}
	remembered := 0
	for _, day := range days {
		files, err := filesByAge(filepath.Join(dir, day))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			n, err := s.recover(f)
			if err != nil {
				return nil, err
			}
			remembered += n
		}
	}
	log.WithField("dir", dir).Infof("writing documents to local files (es.endpoints is empty); %d recent id(s) read back", remembered)
	return s, nil
}

// Write appends docs, skipping those whose id was written recently, and
// returns once they are on disk (fsync). On error nothing of this call is
// left in the files, and the caller may call Write again with the same
// docs. now picks the day directory.
func (s *Store) Write(docs []Doc, now time.Time) (skipped int, err error) {
	if day := now.UTC().Format(DayLayout); day != s.day {
		s.closeFiles()
		s.day = day
		s.prune(now)
	} else if now.Sub(s.pruned) > pruneEvery {
		s.prune(now)
	}
	for k, v := range s.groups {
		s.groups[k] = v[:0]
	}
	var ids []string
	inCall := map[string]struct{}{}
	for _, d := range docs {
		if d.ID != "" {
			if _, dup := inCall[d.ID]; dup || s.recent.has(d.ID) {
				skipped++
				continue
			}
			inCall[d.ID] = struct{}{}
			ids = append(ids, d.ID)
		}
		g := append(s.groups[d.Index], d.Source...)
		s.groups[d.Index] = append(g, '\n')
	}

	type written struct {
		index string
		f     *os.File
		size  int64
	}
	var done []written
	undo := func(cause error) error {
		for _, w := range done {
			if err := w.f.Truncate(w.size); err != nil {
				cause = errors.Join(cause, fmt.Errorf("undo %s: %w", w.f.Name(), err))
			}
		}
		return cause
	}
	// The lines of open files are summed up for their indexes while they
	// are written and fsynced.
	ahead := make(map[string]*staged, len(s.groups))
	var mu sync.Mutex
	var summing sync.WaitGroup
	defer summing.Wait()
	for index, lines := range s.groups {
		if ix := s.indexes[index]; ix != nil && ix.f != nil && len(lines) > 0 {
			summing.Go(func() {
				st := ix.stage(lines)
				mu.Lock()
				ahead[index] = st
				mu.Unlock()
			})
		}
	}
	for index, lines := range s.groups {
		if len(lines) == 0 {
			continue
		}
		f, err := s.file(index)
		if err != nil {
			return 0, undo(err)
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, undo(fmt.Errorf("%s: %w", f.Name(), err))
		}
		done = append(done, written{index, f, size})
		if _, err := f.Write(lines); err != nil {
			return 0, undo(fmt.Errorf("write %s: %w", f.Name(), err))
		}
		if err := f.Sync(); err != nil {
			return 0, undo(fmt.Errorf("fsync %s: %w", f.Name(), err))
		}
	}
	for _, id := range ids {
		s.recent.add(id)
	}
	summing.Wait()
	for _, w := range done {
		if ix := s.indexes[w.index]; ix != nil {
			if err := ix.appended(w.size, s.groups[w.index], ahead[w.index]); err != nil {
				s.log.Warn(err) // the documents are written: only searches slow down
			}
		}
	}
	return skipped, nil
}

// Close closes the open files.
func (s *Store) Close() { s.closeFiles() }

func (s *Store) closeFiles() {
	for k, f := range s.files {
		f.Close()
		delete(s.files, k)
	}
	for k, ix := range s.indexes {
		if ix != nil {
			if err := ix.close(); err != nil {
				s.log.Warn(err)
			}
		}
		delete(s.indexes, k)
	}
}

// file returns the day's file of index, opened for appending.
func (s *Store) file(index string) (*os.File, error) {
	if f := s.files[index]; f != nil {
		return f, nil
	}
	dir := filepath.Join(s.dir, s.day)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	path := filepath.Join(dir, FileName(index))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	if old := s.indexes[index]; old != nil {
		old.abandon() // its file was closed under it: openIndex starts over
	}
	ix, err := openIndex(path)
	if err != nil {
		s.log.Warnf("%v; searches read %s whole", err, path)
	}
	s.files[index], s.indexes[index] = f, ix
	return f, nil
}

// FileName is the file an index's documents go to in a day directory.
// Index names never hold '/' (Elasticsearch refuses it); it is replaced
// all the same, so that no name leads out of the directory.
func FileName(index string) string {
	index = strings.NewReplacer("/", "_", "\x00", "_").Replace(index)
	if strings.HasPrefix(index, ".") {
		index = "_" + index
	}
	return index + Ext
}

// prune removes the day directories whose every document is older than
// keep.
func (s *Store) prune(now time.Time) {
	s.pruned = now
	days, err := Days(s.dir)
	if err != nil {
		s.log.Warn(err)
		return
	}
	for _, day := range days {
		t, _ := time.Parse(DayLayout, day)
		if t.Add(24 * time.Hour).After(now.Add(-s.keep)) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.dir, day)); err != nil {
			s.log.Warnf("es.local.keep: removing %s: %v", day, err)
			continue
		}
		s.log.WithField("dir", s.dir).Infof("removed the documents of %s (older than es.local.keep %v)", day, s.keep)
	}
}

// recover truncates path after its last complete line and remembers the
// event ids of its last startupTail bytes. It returns how many it read.
func (s *Store) recover(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("local documents: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("local documents: %w", err)
	}
	start := max(0, st.Size()-startupTail)
	tail := make([]byte, st.Size()-start)
	if _, err := f.ReadAt(tail, start); err != nil {
		return 0, fmt.Errorf("local documents: read %s: %w", path, err)
	}
	complete := bytes.LastIndexByte(tail, '\n') + 1
	if complete < len(tail) && (complete > 0 || start == 0) {
		cut := start + int64(complete)
		s.log.Warnf("%s ends in an incomplete document (a write cut short); truncating it to %d bytes", path, cut)
		if err := f.Truncate(cut); err != nil {
			return 0, fmt.Errorf("local documents: truncate %s: %w", path, err)
		}
	}
	lines := tail[:complete]
	if start > 0 { // the first line read may be the end of one
		lines = lines[bytes.IndexByte(lines, '\n')+1:]
	}
	n := 0
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		var doc struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if json.Unmarshal(lines[:i], &doc) == nil && doc.Event.ID != "" {
			s.recent.add(doc.Event.ID)
			n++
		}
		lines = lines[i+1:]
	}
	// The index follows the file (openIndex), its last block written.
	ix, err := openIndex(path)
	if err == nil {
		if ix.summed > startupTail {
			s.log.Infof("indexed %s: %d MiB of documents written before its index", path, ix.summed>>20)
		}
		err = ix.close()
	}
	if err != nil {
		s.log.Warnf("%v; searches read %s whole", err, path)
	}
	return n, nil
}

// Days lists the day directories under dir, oldest first.
func Days(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("local documents: %w", err)
	}
	var days []string
	for _, e := range entries {
		if _, err := time.Parse(DayLayout, e.Name()); err == nil && e.IsDir() {
			days = append(days, e.Name())
		}
	}
	sort.Strings(days)
	return days, nil
}

// filesByAge lists the document files of a day directory, least recently
// written first.
func filesByAge(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), Ext) || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		files = append(files, file{filepath.Join(dir, e.Name()), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	return paths, nil
}
