package collector

import (
	"bytes"
	"io"
	"sync"
)

// lineReader splits a file into lines with one fixed buffer. It never
// returns a line before its newline is read: a line still being written
// stays pending until it is completed, or until the caller takes it with
// rest() (the file was rotated away).
type lineReader struct {
	nl, cr  []byte // the encoded "\n" and "\r": one byte, or two for UTF-16
	src     io.Reader
	buf     []byte // nil while the reader is at the end with nothing pending
	size    int    // of buf
	r, w    int    // buf[r:w] is read from the file and not yet returned
	pos     int64  // file offset of buf[r]
	start   int64  // file offset where the pending line begins
	long    []byte
	cut     bool // the pending line already exceeded maxLine
	maxLine int
}

func newLineReader(src io.Reader, offset int64, bufSize, maxLine int, nl, cr []byte) *lineReader {
	bufSize -= bufSize % len(nl) // whole code units, so a spilled buffer never splits one
	return &lineReader{nl: nl, cr: cr, src: src, size: bufSize, pos: offset, start: offset, maxLine: maxLine}
}

// bufPool holds the read buffers of readers that reached the end of their
// file with nothing pending: a quiet file holds no buffer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// acquire gives the reader a buffer, from the pool when it is of the pooled
// size.
func (lr *lineReader) acquire() {
	if lr.size == readBufSize {
		lr.buf = *bufPool.Get().(*[]byte)
		return
	}
	lr.buf = make([]byte, lr.size)
}

// release gives an empty reader's buffer back.
func (lr *lineReader) release() {
	if lr.size == readBufSize {
		b := lr.buf[:readBufSize]
		bufPool.Put(&b)
	}
	lr.buf, lr.r, lr.w = nil, 0, 0
}

// index finds the next newline in b, which starts on a code-unit boundary.
func (lr *lineReader) index(b []byte) int {
	if len(lr.nl) == 1 {
		return bytes.IndexByte(b, lr.nl[0])
	}
	for j := 0; ; {
		i := bytes.Index(b[j:], lr.nl)
		if i < 0 {
			return -1
		}
		if (j+i)%len(lr.nl) == 0 {
			return j + i
		}
		j += i + 1
	}
}

// line is one line of a file, without its "\n" or "\r\n". Text aliases the
// reader's buffer and is valid until the next call.
type line struct {
	Text      []byte
	Start     int64 // offset of the first byte
	End       int64 // offset just past the newline
	Truncated bool  // the line was longer than maxLine and was cut
}

// next returns the next complete line. It returns io.EOF when the file has
// no complete line left (a pending partial line stays buffered), or the
// file's read error.
func (lr *lineReader) next() (line, error) {
	if lr.buf == nil {
		lr.acquire()
	}
	for {
		if i := lr.index(lr.buf[lr.r:lr.w]); i >= 0 {
			seg := lr.buf[lr.r : lr.r+i]
			l := line{Start: lr.start, Truncated: lr.cut}
			n := i + len(lr.nl)
			lr.r += n
			lr.pos += int64(n)
			lr.start = lr.pos
			if len(lr.long) > 0 || lr.cut {
				lr.long, l.Truncated = lr.appendCapped(lr.long, seg, l.Truncated)
				l.Text = lr.long
				lr.long = lr.long[:0]
				lr.cut = false
			} else {
				l.Text = seg
			}
			l.End = lr.pos
			l.Text, l.Truncated = lr.finish(l.Text, l.Truncated)
			return l, nil
		}
		if lr.w == len(lr.buf) {
			if lr.r > 0 {
				lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
				lr.r = 0
			} else {
				// A full buffer without a newline: the line is longer than the
				// buffer. Keep up to maxLine of it aside and read on.
				lr.long, lr.cut = lr.appendCapped(lr.long, lr.buf[:lr.w], lr.cut)
				lr.pos += int64(lr.w)
				lr.w = 0
			}
		}
		n, err := lr.src.Read(lr.buf[lr.w:])
		lr.w += n
		if n == 0 {
			if err != nil && err != io.EOF {
				return line{}, err
			}
			if !lr.pending() {
				lr.release() // at the end, nothing held: the buffer goes back
			}
			return line{}, io.EOF
		}
	}
}

// appendCapped appends seg to the pending text dst while it holds at most
// maxLine bytes and a carriage return (which finish may find to be the
// line ending's), in whole code units; cut reports that some were left out.
func (lr *lineReader) appendCapped(dst, seg []byte, cut bool) ([]byte, bool) {
	room := lr.maxLine + len(lr.cr) - len(dst)
	room -= room % len(lr.nl)
	if len(seg) > room {
		return append(dst, seg[:max(room, 0)]...), true
	}
	return append(dst, seg...), cut
}

// finish makes the text of a line from what was kept of it: the carriage
// return that ends a whole line is dropped, then the text is cut to
// maxLine (whole code units) and flagged. The carriage return belongs to
// the line ending, not to the line: a CRLF line of exactly maxLine bytes
// is whole, and a line cut short keeps a carriage return it holds.
func (lr *lineReader) finish(text []byte, cut bool) ([]byte, bool) {
	if !cut {
		text = bytes.TrimSuffix(text, lr.cr)
	}
	if len(text) > lr.maxLine {
		return text[:lr.maxLine-lr.maxLine%len(lr.nl)], true
	}
	return text, cut
}

// pending reports whether a partial line is buffered.
func (lr *lineReader) pending() bool { return lr.w > lr.r || len(lr.long) > 0 || lr.cut }

// readOffset is the file offset just past the last byte read from the file.
func (lr *lineReader) readOffset() int64 { return lr.pos + int64(lr.w-lr.r) }

// rest returns the pending partial line as a line of its own, for a file
// that will not be written any more. ok is false when nothing is pending.
func (lr *lineReader) rest() (l line, ok bool) {
	if !lr.pending() {
		return line{}, false
	}
	l = line{Start: lr.start, Truncated: lr.cut}
	l.Text, l.Truncated = lr.appendCapped(lr.long, lr.buf[lr.r:lr.w], l.Truncated)
	lr.pos += int64(lr.w - lr.r)
	lr.r, lr.w = 0, 0
	lr.long = lr.long[:0]
	lr.cut = false
	lr.start = lr.pos
	l.End = lr.pos
	l.Text, l.Truncated = lr.finish(l.Text, l.Truncated)
	return l, true
}

// reset makes the reader start again at offset of a new source, dropping
// anything pending (the file was truncated).
func (lr *lineReader) reset(src io.Reader, offset int64) {
	lr.src = src
	lr.r, lr.w = 0, 0
	lr.pos, lr.start = offset, offset
	lr.long = lr.long[:0]
	lr.cut = false
}
