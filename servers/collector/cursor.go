package collector

import (
	"io"

	"brun/servers/ack"
)

// cursor is one job's hold on one file's entry in the registry, given to
// the file's harvester: through it the harvester learns where to start
// and tells the registry what it read, without naming the registry, the
// job or the file's identity. Only that harvester uses it, from its own
// goroutine.
//
// A reading is one run of the file from an offset under one generation:
// claim starts the first, truncated each next one. Acks of an earlier
// reading, or of an earlier reader of the file, stop counting then.
type cursor struct {
	reg  *Registry
	job  string
	path string
	key  fileKey

	fresh int64    // where the first reading starts when the job has no saved offset for the file
	pos   Position // the saved position the current reading started from
	gen   uint64   // the registry's token for the current reading; 0 before claim
}

// newCursor returns the cursor of job's file key, found at path. It holds
// no position until claim. fresh is where a file the job never read is
// first read from: 0, or with start "end" the file's size when the job
// began.
func newCursor(reg *Registry, job, path string, key fileKey, fresh int64) *cursor {
	return &cursor{reg: reg, job: job, path: path, key: key, fresh: fresh}
}

// claim makes the caller the file's one reader and starts the first
// reading at the saved offset (fresh for a file the job never read). f
// and size are the open file; restarted is true when the saved offset did
// not belong to it (the file was truncated or replaced while no one read
// it) and the reading starts at 0.
func (c *cursor) claim(f io.ReaderAt, size int64) (restarted bool) {
	c.pos, c.gen, restarted = c.reg.Claim(c.job, c.path, c.key.dev, c.key.ino, f, size, c.fresh)
	return restarted
}

// position returns the saved position the current reading started from:
// its offset, its generation's truncation count (part of event ids) and
// the fingerprint known when it started.
func (c *cursor) position() Position { return c.pos }

// truncated starts a new reading at offset 0: the file restarted from
// zero (copytruncate), or a rotated copy of it is read next.
func (c *cursor) truncated() {
	c.pos, c.gen = c.reg.Truncated(c.job, c.key.dev, c.key.ino)
}

// setFingerprint records the hash fp of the file's first n bytes, once
// the file has grown long enough to take it.
func (c *cursor) setFingerprint(fp uint64, n int) {
	c.reg.SetFingerprint(c.job, c.key.dev, c.key.ino, c.gen, fp, n)
}

// track makes win, the current reading's ack window, the source of the
// saved offset: the registry reads its contiguous watermark at each flush.
func (c *cursor) track(win *ack.Window) {
	c.reg.Track(c.job, c.key.dev, c.key.ino, c.gen, win)
}
