package collector

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"brun/servers/ack"
)

// registryFile is the name of the offsets file under data.dir.
const registryFile = "offsets.json"

// forgetAfter is how long an entry whose file is gone is kept: long enough
// for an agent that was down over a weekend to find its place again.
const forgetAfter = 7 * 24 * time.Hour

// Position is the saved state of one file of one job.
type Position struct {
	Job  string `json:"job"`
	Path string `json:"path"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	// Offset is the byte offset up to which Kafka acknowledged every line.
	Offset int64 `json:"offset"`
	// Truncations counts restarts of this file from zero (copytruncate, or
	// its inode reused by a new file); it is part of the file's identity in
	// event ids, so lines written after a restart never share an id with the
	// lines before it.
	Truncations int `json:"truncations"`
	// Fingerprint is a hash of the file's first FingerprintLen bytes: a file
	// at the same device and inode whose first bytes differ is a new file.
	Fingerprint    uint64    `json:"fingerprint"`
	FingerprintLen int       `json:"fingerprint_len"`
	Updated        time.Time `json:"updated"`
}

// fingerprintBytes is how much of a file's start identifies it.
const fingerprintBytes = 1024

// fingerprint hashes the first n bytes of f; ok is false when f has fewer.
func fingerprint(f io.ReaderAt, n int) (uint64, bool) {
	if n == 0 {
		return 0, true
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return 0, false
	}
	return xxhash.Sum64(buf), true
}

type regEntry struct {
	pos Position
	gen uint64      // which reader of this key owns it
	win *ack.Window // that reader's acks: Offset is read from it at flush
}

// Registry holds the acknowledged offset of every file being read and saves
// it atomically (temp file, fsync, rename) under data.dir. Only contiguous
// watermarks reach it, so a restart never skips a line Kafka did not take.
type Registry struct {
	path string

	mu      sync.Mutex
	entries map[string]*regEntry
	dirty   bool
	nextGen uint64
}

// OpenRegistry loads the registry from dir, creating dir if needed. A
// missing file is an empty registry; an unreadable one is an error, since
// starting over would resend every file.
func OpenRegistry(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	r := &Registry{path: filepath.Join(dir, registryFile), entries: map[string]*regEntry{}}
	data, err := os.ReadFile(r.path)
	if os.IsNotExist(err) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets %s: %w", r.path, err)
	}
	var list []Position
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("read offsets %s: %w (move the file away to start every file from its beginning)", r.path, err)
	}
	for _, p := range list {
		r.entries[regKey(p.Job, p.Dev, p.Ino)] = &regEntry{pos: p}
	}
	return r, nil
}

func regKey(job string, dev, ino uint64) string {
	return fmt.Sprintf("%s@%d:%d", job, dev, ino)
}

// Claim makes the caller the one reader of a file for a job and returns the
// saved position and a generation token. A file the job has no entry for
// starts at fresh (0, or where start "end" begins it), at 0 if fresh is
// past its size. Acks of an earlier reader of the same file stop counting
// from here on. f and size are the open file: when its first bytes no
// longer match the fingerprint (the inode was reused by a new file), or it
// is shorter than the saved offset (truncated while no one read it), it is
// read again from zero.
func (r *Registry) Claim(job, path string, dev, ino uint64, f io.ReaderAt, size, fresh int64) (pos Position, gen uint64, restarted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := regKey(job, dev, ino)
	e, ok := r.entries[k]
	if !ok {
		if fresh < 0 || fresh > size {
			fresh = 0
		}
		e = &regEntry{pos: Position{Job: job, Path: path, Dev: dev, Ino: ino, Offset: fresh}}
		r.entries[k] = e
	} else {
		r.sync(e) // what an earlier reader of this file got acked counts
		if fp, ok := fingerprint(f, e.pos.FingerprintLen); !ok || fp != e.pos.Fingerprint || size < e.pos.Offset {
			e.pos.Offset = 0
			e.pos.Truncations++
			e.pos.FingerprintLen = 0
			restarted = true
		}
	}
	if n := int(min(size, fingerprintBytes)); n > e.pos.FingerprintLen {
		if fp, ok := fingerprint(f, n); ok {
			e.pos.Fingerprint, e.pos.FingerprintLen = fp, n
		}
	}
	e.pos.Path = path
	e.pos.Updated = time.Now()
	e.win = nil
	r.nextGen++
	e.gen = r.nextGen
	r.dirty = true
	return e.pos, e.gen, restarted
}

// Offset returns the saved offset of a file of a job; ok is false when the
// registry has no entry for it.
func (r *Registry) Offset(job string, dev, ino uint64) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[regKey(job, dev, ino)]
	if !ok {
		return 0, false
	}
	r.sync(e)
	return e.pos.Offset, true
}

// Truncated records that the file restarted from zero and returns the new
// position and generation.
func (r *Registry) Truncated(job string, dev, ino uint64) (Position, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[regKey(job, dev, ino)]
	if e == nil {
		panic("collector: Truncated on a file never claimed")
	}
	e.pos.Offset = 0
	e.pos.Truncations++
	e.pos.FingerprintLen = 0
	e.pos.Updated = time.Now()
	e.win = nil
	r.nextGen++
	e.gen = r.nextGen
	r.dirty = true
	return e.pos, e.gen
}

// SetFingerprint records the fingerprint of a file's first n bytes, taken
// once the file has grown long enough. Ignored when gen is not the file's
// current reader.
func (r *Registry) SetFingerprint(job string, dev, ino uint64, gen uint64, fp uint64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[regKey(job, dev, ino)]
	if e == nil || e.gen != gen {
		return
	}
	e.pos.Fingerprint, e.pos.FingerprintLen = fp, n
	r.dirty = true
}

// Track attaches the ack window of a file's current reader: from then on
// the saved offset is the window's contiguous watermark, read at each
// flush, so acks cost the registry nothing. Ignored when gen is no longer
// the file's current reader.
func (r *Registry) Track(job string, dev, ino uint64, gen uint64, win *ack.Window) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[regKey(job, dev, ino)]
	if e == nil || e.gen != gen {
		return
	}
	e.win = win
	r.dirty = true
}

// Snapshot returns every saved position, sorted by job and path.
func (r *Registry) Snapshot() []Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Position, 0, len(r.entries))
	for _, e := range r.entries {
		r.sync(e)
		out = append(out, e.pos)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// sync copies the watermark of the entry's live window into its position.
// Called with r.mu held.
func (r *Registry) sync(e *regEntry) {
	if e.win == nil {
		return
	}
	if wm := e.win.Watermark(); wm != e.pos.Offset {
		e.pos.Offset = wm
		e.pos.Updated = time.Now()
		r.dirty = true
	}
}

// Flush writes the registry if it changed since the last flush. Entries of
// files that are gone and were not touched for a week are dropped.
func (r *Registry) Flush() error {
	r.mu.Lock()
	for _, e := range r.entries {
		r.sync(e)
		if e.win != nil {
			e.win.Trim() // an idle file's window gives its ring back
		}
	}
	if !r.dirty {
		r.mu.Unlock()
		return nil
	}
	for k, e := range r.entries {
		if time.Since(e.pos.Updated) > forgetAfter && !sameFile(e.pos) {
			delete(r.entries, k)
		}
	}
	r.dirty = false
	r.mu.Unlock()

	data, err := json.MarshalIndent(r.Snapshot(), "", " ")
	if err != nil {
		return err
	}
	if err := writeAtomic(r.path, data); err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return err
	}
	return nil
}

// sameFile reports whether the file a position names is still at its path.
func sameFile(p Position) bool {
	fi, err := os.Stat(p.Path)
	if err != nil {
		return false
	}
	dev, ino := fileIdentity(fi)
	return dev == p.Dev && ino == p.Ino
}

// writeAtomic replaces path with data so that a crash at any moment leaves
// either the old or the new content, never a torn file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save offsets %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save offsets %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save offsets %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save offsets %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
