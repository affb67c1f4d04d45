package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

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
