package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"brun/servers/ack"
	"brun/servers/event"
	"brun/servers/job"
)

const (
	// pollInterval is how often a reader at the end of its file looks for
	// new data, truncation and rotation.
	pollInterval = 250 * time.Millisecond
	// drainGrace is how long a rotated-away or deleted file must stay
	// without new data before its reader moves on: a writer may still be
	// appending to it through an open descriptor for a moment.
	drainGrace = time.Second
	// readBufSize is each reader's buffer.
	readBufSize = 64 << 10
	// maxLineBytes is the longest line sent whole; longer lines are cut
	// there and flagged (log.flags: truncated), never dropped.
	maxLineBytes = 1 << 20
	// maxUnackedPerFile bounds the lines of one file sent and not yet
	// acknowledged by Kafka; a reader at the bound waits.
	maxUnackedPerFile = 32 << 10
)

// tailJob reads one job's file from its saved offset, follows it through
// rotation and truncation, and hands each line to the producer.
type tailJob struct {
	name string
	spec job.Spec
	c    *Collector
	log  *logrus.Entry
}

// run follows the file until ctx ends. Errors about the file are logged
// with its path and retried; they never end the job.
func (t *tailJob) run(ctx context.Context) {
	for ctx.Err() == nil {
		f, err := t.open(ctx)
		if err != nil {
			return
		}
		err = t.follow(ctx, f)
		f.Close()
		if err != nil && ctx.Err() == nil {
			t.log.Errorf("read %s: %v; opening it again", t.spec.Path, err)
			sleep(ctx, time.Second)
		}
	}
}

// open waits until the job's file exists and can be opened.
func (t *tailJob) open(ctx context.Context) (*os.File, error) {
	var lastErr string
	for {
		f, err := os.Open(t.spec.Path)
		if err == nil {
			if lastErr != "" {
				t.log.Infof("file %s is there now", t.spec.Path)
			}
			return f, nil
		}
		if msg := err.Error(); msg != lastErr {
			if errors.Is(err, fs.ErrNotExist) {
				t.log.Infof("waiting for %s to exist", t.spec.Path)
			} else {
				t.log.Errorf("can't open %s, retrying: %v", t.spec.Path, err)
			}
			lastErr = msg
		}
		if !sleep(ctx, time.Second) {
			return nil, ctx.Err()
		}
	}
}

// follow reads f from its saved offset until f is rotated away and drained,
// or ctx ends.
func (t *tailJob) follow(ctx context.Context, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	s, enc, start := t.claim(fi)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	t.log.WithField("offset", start).Infof("reading %s", t.spec.Path)
	lr := newLineReader(f, start, readBufSize, maxLineBytes)
	lastData, lastRead := time.Now(), start
	var rotatedAt time.Time
	for {
		l, err := lr.next()
		if err == nil {
			if !t.emit(ctx, s, enc, l) {
				return nil
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		now := time.Now()
		if off := lr.readOffset(); off != lastRead {
			lastData, lastRead = now, off
		}
		cur, err := f.Stat()
		if err != nil {
			return err
		}
		if cur.Size() < lr.readOffset() {
			t.log.Warnf("%s was truncated (size %d < offset %d); reading it from the start", t.spec.Path, cur.Size(), lr.readOffset())
			s, enc = t.truncated(cur)
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			lr.reset(f, 0)
			lastRead = 0
			continue
		}
		if moved := t.rotated(cur); moved {
			if rotatedAt.IsZero() {
				rotatedAt = now
				t.log.Infof("%s was rotated or deleted; reading the old file to its end", t.spec.Path)
			}
			if now.Sub(lastData) >= drainGrace && now.Sub(rotatedAt) >= drainGrace {
				if l, ok := lr.rest(); ok && !t.emit(ctx, s, enc, l) {
					return nil
				}
				return nil
			}
		}
		if !sleep(ctx, pollInterval) {
			return nil
		}
	}
}

// rotated reports whether the job's path no longer names the open file.
func (t *tailJob) rotated(open os.FileInfo) bool {
	cur, err := os.Stat(t.spec.Path)
	return err != nil || !os.SameFile(cur, open)
}

// claim takes ownership of the file in the registry and prepares the acks
// and the encoder of this reading.
func (t *tailJob) claim(fi os.FileInfo) (*stream, *event.Encoder, int64) {
	dev, ino := fileIdentity(fi)
	pos, gen := t.c.reg.Claim(t.name, t.spec.Path, dev, ino)
	if fi.Size() < pos.Offset {
		t.log.Warnf("%s is shorter (%d) than its saved offset %d: it was truncated while brun was down; reading it from the start", t.spec.Path, fi.Size(), pos.Offset)
		pos, gen = t.c.reg.Truncated(t.name, dev, ino)
	}
	s, enc := t.newStream(pos, gen)
	return s, enc, pos.Offset
}

func (t *tailJob) truncated(fi os.FileInfo) (*stream, *event.Encoder) {
	dev, ino := fileIdentity(fi)
	pos, gen := t.c.reg.Truncated(t.name, dev, ino)
	return t.newStream(pos, gen)
}

func (t *tailJob) newStream(pos Position, gen uint64) (*stream, *event.Encoder) {
	fileID := fmt.Sprintf("%d:%d:%d", pos.Dev, pos.Ino, pos.Truncations)
	enc := event.NewEncoder(event.Source{Host: t.c.host, AgentID: t.c.agentID, Path: t.spec.Path, FileID: fileID})
	s := &stream{
		reg: t.c.reg, job: t.name, path: t.spec.Path,
		dev: pos.Dev, ino: pos.Ino, gen: gen,
		win: ack.NewWindow(maxUnackedPerFile, pos.Offset),
		key: enc.StreamKey(),
	}
	return s, enc
}

// emit hands one line to the producer, waiting while the file's ack window
// or the line channel is full. It returns false when ctx ended.
func (t *tailJob) emit(ctx context.Context, s *stream, enc *event.Encoder, l line) bool {
	tk, err := s.win.Add(ctx, l.End)
	if err != nil {
		return false
	}
	rec := &Record{
		Topic:  t.spec.Topic,
		Key:    s.key,
		Value:  enc.Encode(l.Text, l.Start, time.Now(), l.Truncated),
		stream: s,
		ticket: tk,
	}
	select {
	case t.c.lines <- rec:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep waits d or until ctx ends; it returns false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
