package filestore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
)

// IndexExt ends the name of a document file's index, next to it:
// <index>.ndjson.idx.
const IndexExt = ".idx"

// indexHeader is the first line of an index; an index of another version
// is made again from its documents.
const indexHeader = `{"brun_index":1}` + "\n"

// An index is a line of JSON per block of its document file (a Summary),
// in the file's order, the first at offset 0 and each where the last
// ended. It is written after the documents it sums up are on disk, so it
// never names a document the file does not hold; what follows its last
// block (the block being written, or a whole file written before indexes
// were) is read to be known.

// indexWriter keeps the index of one document file while the Store
// appends to it.
type indexWriter struct {
	path string   // of the index
	f    *os.File // nil once writing it failed: the file is then read whole
	b    builder  // the block being written, not yet in the index
	buf  []byte
	// summed is how many bytes of the file openIndex found not indexed.
	summed int64
}

// readIndex reads the index at path of a document file of size bytes
// (parseIndex). A missing index has no blocks.
func readIndex(path string, size int64) ([]Summary, int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("local documents: %w", err)
	}
	blocks, used := parseIndex(data, size)
	if !endsLine(strings.TrimSuffix(path, IndexExt), blocks) {
		return nil, 0, nil
	}
	return blocks, used, nil
}

// endsLine reports whether the last of blocks ends a line of the document
// file at path, as it did when it was written: an index beside another
// file than its own (a file restored from elsewhere) is not trusted.
func endsLine(path string, blocks []Summary) bool {
	if len(blocks) == 0 {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, blocks[len(blocks)-1].End-1)
	return err == nil && b[0] == '\n'
}

// parseIndex reads the blocks of an index that agree with a document
// file of size bytes: after the header of this version, blocks that
// follow each other from offset 0 and end within size, up to the first
// that does not. It returns them and how many bytes of the index hold
// them, the header included (0 when it has none).
func parseIndex(data []byte, size int64) ([]Summary, int64) {
	if !bytes.HasPrefix(data, []byte(indexHeader)) {
		return nil, 0
	}
	used := int64(len(indexHeader))
	rest := data[used:]
	var blocks []Summary
	end := int64(0)
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break // the end, or a line being written or cut by a crash
		}
		var s Summary
		if json.Unmarshal(rest[:i], &s) != nil || s.Off != end || s.End <= s.Off || s.End > size || s.Docs < 0 {
			break
		}
		blocks = append(blocks, s)
		end = s.End
		used += int64(i + 1)
		rest = rest[i+1:]
	}
	return blocks, used
}

// openIndex makes the index of the document file at data agree with it
// and returns its writer: it keeps the index's blocks that agree with the
// file (readIndex), drops the rest, and sums up the complete lines after
// them, writing each full block; the last, not full, stays open in the
// writer.
func openIndex(data string) (*indexWriter, error) {
	st, err := os.Stat(data)
	if err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	w := &indexWriter{path: data + IndexExt}
	blocks, used, err := readIndex(w.path, st.Size())
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local documents: %w", err)
	}
	w.f = f
	if used == 0 {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("local documents: truncate %s: %w", w.path, err)
		}
		w.buf = append(w.buf, indexHeader...)
	} else if err := f.Truncate(used); err != nil {
		f.Close()
		return nil, fmt.Errorf("local documents: truncate %s: %w", w.path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("local documents: %s: %w", w.path, err)
	}
	end := int64(0)
	if len(blocks) > 0 {
		end = blocks[len(blocks)-1].End
	}
	w.b.reset(end)
	w.summed = st.Size() - end
	if err := w.sumUp(data, end, st.Size()); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.write(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// sumUp adds the complete lines of the document file at data between
// from and to to the blocks.
func (w *indexWriter) sumUp(data string, from, to int64) error {
	f, err := os.Open(data)
	if err != nil {
		return fmt.Errorf("local documents: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long := bytes.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err == io.EOF {
			return nil // what is left is not a whole line
		}
		if err != nil {
			return fmt.Errorf("local documents: read %s: %w", data, err)
		}
		w.add(line)
	}
}

// add sums up one line, its newline included, ending the block before it
// when it is full.
func (w *indexWriter) add(line []byte) {
	var f fields
	if len(line) > 1 {
		f = readFields(line[:len(line)-1])
	}
	n := int64(len(line))
	if w.b.endsBefore(f, n) {
		w.endBlock()
	}
	w.b.add(f, n)
}

// endBlock puts the open block, if it holds a line, into buf.
func (w *indexWriter) endBlock() {
	if w.b.lines == 0 {
		return
	}
	line, _ := json.Marshal(w.b.summary())
	w.buf = append(append(w.buf, line...), '\n')
	w.b.reset(w.b.sum.End)
}

// write appends buf to the index. It is not fsynced: an index cut short
// by a crash lacks its last blocks, which openIndex sums up again.
func (w *indexWriter) write() error {
	if len(w.buf) == 0 || w.f == nil {
		w.buf = w.buf[:0]
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// staged is lines summed up ahead, as if appended where the index's
// blocks end: the blocks they end (buf) and the block left open.
type staged struct {
	w    *indexWriter // the index it was summed up for
	from int64        // where its blocks ended then
	b    builder
	buf  []byte
}

// stage sums up lines without changing w. A Write calls it while its
// lines are written and fsynced, and hands the result to appended once
// they are on disk: with a core to spare, the index costs the write
// little.
func (w *indexWriter) stage(lines []byte) *staged {
	t := &indexWriter{b: w.b}
	t.b.counts = maps.Clone(w.b.counts)
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		t.add(lines[:i+1])
		lines = lines[i+1:]
	}
	return &staged{w: w, from: w.b.sum.End, b: t.b, buf: t.buf}
}

// appended sums up lines, written to the document file at offset at, or
// takes st, what stage summed up of them ahead. It is called once they
// are on disk. When the index can't follow (it failed before, or at is
// not where its blocks end) it is removed, so that readers read the file
// whole, and the error says why.
func (w *indexWriter) appended(at int64, lines []byte, st *staged) error {
	if w.f == nil {
		return nil
	}
	if at != w.b.sum.End {
		return w.drop(fmt.Errorf("%s sums up %d bytes of documents, but documents were written at %d", w.path, w.b.sum.End, at))
	}
	if st == nil || st.w != w || st.from != at {
		st = w.stage(lines)
	}
	w.b, w.buf = st.b, append(w.buf, st.buf...)
	if err := w.write(); err != nil {
		return w.drop(err)
	}
	return nil
}

// drop stops keeping the index and removes it: a wrong index would hide
// documents from a search, a missing one only makes it read more.
func (w *indexWriter) drop(cause error) error {
	w.f.Close()
	w.f = nil
	if err := os.Remove(w.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		cause = errors.Join(cause, fmt.Errorf("remove %s: %w", w.path, err))
	}
	return fmt.Errorf("%w; the index is dropped, searches read the whole file", cause)
}

// abandon closes the index without writing the open block.
func (w *indexWriter) abandon() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// close writes the open block to the index and closes it.
func (w *indexWriter) close() error {
	if w.f == nil {
		return nil
	}
	w.endBlock()
	err := w.write()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", w.path, cerr)
	}
	w.f = nil
	return err
}
