package filestore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// readChunk is how much Latest reads from a file at a time, backwards.
const readChunk = 64 << 10

// Query selects documents for Latest.
type Query struct {
	// Index reports whether the documents of an index are wanted.
	Index func(index string) bool
	// Keep reports whether a document (one JSON line) is wanted; nil keeps
	// every one.
	Keep func(doc []byte) bool
	// Limit is how many documents to return at most.
	Limit int
	// MaxBytes bounds how much is read in all, so that a filter matching
	// nothing still answers quickly.
	MaxBytes int64
}

// Latest returns up to q.Limit documents of dir, newest first: it reads
// the newest day directory first, its most recently written files first,
// each from its end. A line still being written is left out. It is safe
// while a Store writes to dir.
func Latest(dir string, q Query) ([][]byte, error) {
	days, err := Days(dir)
	if err != nil {
		return nil, err
	}
	budget := q.MaxBytes
	var out [][]byte
	for _, day := range slices.Backward(days) {
		files, err := filesByAge(filepath.Join(dir, day))
		if err != nil {
			return nil, err
		}
		for _, path := range slices.Backward(files) {
			index := strings.TrimSuffix(filepath.Base(path), Ext)
			if !q.Index(index) {
				continue
			}
			_, err := eachLineBackward(path, 0, -1, &budget, func(doc []byte) bool {
				if q.Keep == nil || q.Keep(doc) {
					out = append(out, bytes.Clone(doc))
				}
				return len(out) < q.Limit
			})
			if err != nil {
				return nil, err
			}
			if len(out) >= q.Limit || budget <= 0 {
				return out, nil
			}
		}
	}
	return out, nil
}

// Each calls fn for the documents of dir's indices that index wants, as
// Latest reads them (newest day first, each file from its end), skipping
// the day directories before since (by name: the UTC day of writing, and
// an event is written after it happened), until fn returns false or
// maxBytes are read. It reports whether it stopped at maxBytes: the
// documents it did not reach are then the oldest written.
func Each(dir string, index func(string) bool, since time.Time, maxBytes int64, fn func(doc []byte) bool) (cut bool, err error) {
	days, err := Days(dir)
	if err != nil {
		return false, err
	}
	budget := maxBytes
	first := since.UTC().Format(DayLayout)
	more := true
	for _, day := range slices.Backward(days) {
		if day < first {
			break
		}
		files, err := filesByAge(filepath.Join(dir, day))
		if err != nil {
			return false, err
		}
		for _, path := range slices.Backward(files) {
			if !index(strings.TrimSuffix(filepath.Base(path), Ext)) {
				continue
			}
			if _, err := eachLineBackward(path, 0, -1, &budget, func(doc []byte) bool {
				more = fn(doc)
				return more
			}); err != nil {
				return false, err
			}
			if !more {
				return false, nil
			}
			if budget <= 0 {
				return true, nil
			}
		}
	}
	return false, nil
}

// eachLineBackward calls fn for each complete, non-empty line of path
// between lo, which starts a line, and hi (the file's end when -1), last
// line first, until fn returns false or budget bytes are read. It
// reports whether it stopped for the budget before reaching lo.
func eachLineBackward(path string, lo, hi int64, budget *int64, fn func([]byte) bool) (cut bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil // removed since it was listed
		}
		return false, fmt.Errorf("local documents: %w", err)
	}
	defer f.Close()
	pos := hi
	if hi < 0 {
		st, err := f.Stat()
		if err != nil {
			return false, fmt.Errorf("local documents: %w", err)
		}
		pos = st.Size()
	}
	// tail holds the bytes after pos that are not yet a whole line: at
	// first, a line the writer has not finished.
	var tail []byte
	first := true
	for pos > lo && *budget > 0 {
		start := max(lo, pos-readChunk)
		chunk := make([]byte, pos-start, int(pos-start)+len(tail))
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return false, fmt.Errorf("local documents: read %s: %w", path, err)
		}
		*budget -= pos - start
		data := append(chunk, tail...)
		if first {
			// Drop what follows the last newline: it is still being written.
			data = data[:bytes.LastIndexByte(data, '\n')+1]
			if len(data) == 0 && start > lo {
				pos = start
				continue // no newline yet in this chunk
			}
			first = false
		}
		// data[:end] ends with a newline, or is empty.
		end := len(data)
		for end > 0 {
			i := bytes.LastIndexByte(data[:end-1], '\n')
			if i < 0 && start > lo {
				break // the line starts in an earlier chunk
			}
			if line := data[i+1 : end-1]; len(line) > 0 && !fn(line) {
				return false, nil
			}
			end = i + 1
		}
		tail = append(tail[:0:0], data[:end]...)
		pos = start
	}
	return pos > lo, nil
}

// Block is a run of whole lines of a document file. When Indexed, its
// Summary says what it holds without reading it; when not (a file
// written before indexes were, or the lines after the last block of a
// file's index), only Path, Off and End are known, and End may cut a
// line still being written, which reading leaves out.
type Block struct {
	Path    string
	Index   string // the index the file holds documents of
	Indexed bool
	Summary
}

// Size is how many bytes reading the block costs.
func (b Block) Size() int64 { return b.End - b.Off }

// Blocks calls fn for the blocks of the document files of dir's indices
// that index wants, skipping the day directories before since as Each
// does: the newest day first, its most recently written file first, and
// a file's blocks in the file's order, the not indexed rest last. A
// block's Keys are only valid during fn. It stops at fn's first error
// and returns it. It is safe while a Store writes to dir: it names only
// lines on disk when it looked.
func Blocks(dir string, index func(string) bool, since time.Time, fn func(Block) error) error {
	days, err := Days(dir)
	if err != nil {
		return err
	}
	first := since.UTC().Format(DayLayout)
	for _, day := range slices.Backward(days) {
		if day < first {
			break
		}
		files, err := filesByAge(filepath.Join(dir, day))
		if err != nil {
			return err
		}
		for _, path := range slices.Backward(files) {
			name := strings.TrimSuffix(filepath.Base(path), Ext)
			if !index(name) {
				continue
			}
			if err := fileBlocks(path, name, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileBlocks calls fn for the blocks of one document file.
func fileBlocks(path, name string, fn func(Block) error) error {
	// The index is read before the file's size is taken: what it names
	// was on disk before it was written.
	idx, err := os.ReadFile(path + IndexExt)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local documents: %w", err)
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed since it was listed
	}
	if err != nil {
		return fmt.Errorf("local documents: %w", err)
	}
	end := int64(0)
	if len(idx) > 0 {
		blocks, _ := parseIndex(idx, st.Size())
		if !endsLine(path, blocks) {
			blocks = nil
		}
		for _, s := range blocks {
			if err := fn(Block{Path: path, Index: name, Indexed: true, Summary: s}); err != nil {
				return err
			}
			end = s.End
		}
	}
	if end < st.Size() {
		return fn(Block{Path: path, Index: name, Summary: Summary{Off: end, End: st.Size()}})
	}
	return nil
}

// ReadBlock calls fn for each complete, non-empty line of b, last first,
// until fn returns false or budget bytes are read (and taken from
// budget). It reports whether it stopped for the budget, leaving lines
// of b unread.
func ReadBlock(b Block, budget *int64, fn func(doc []byte) bool) (cut bool, err error) {
	return eachLineBackward(b.Path, b.Off, b.End, budget, fn)
}
