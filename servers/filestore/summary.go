package filestore

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Bounds of a block of the index (index.go).
const (
	// blockBytes is about how many bytes of documents one block holds:
	// reading one costs about a millisecond.
	blockBytes = 256 << 10
	// minuteBlockDocs: a block of at least this many documents, all of
	// one minute, ends before a document of another minute, so that a
	// histogram of bars of a minute or more counts it whole.
	minuteBlockDocs = 32
	// slot: a block of documents all of one slot ends before a document
	// of another, however few it holds, so that a histogram of bars of
	// slot or more (a range of 15 hours or more) counts it whole when
	// documents come slowly.
	slot = 30 * time.Minute
	// maxBlockKeys is how many distinct (level, agent, topic) a block
	// counts; past it, the block has no counts and must be read.
	maxBlockKeys = 64
	// maxKeyBytes is the longest value a block counts by.
	maxKeyBytes = 256
)

// Key is one combination of the fields a block counts its documents by:
// log.level, agent.id and event.dataset, each as the console reads it
// (Field).
type Key struct {
	Level string `json:"l,omitempty"`
	Agent string `json:"a,omitempty"`
	Topic string `json:"t,omitempty"`
}

// KeyCount is how many documents of a block have a Key.
type KeyCount struct {
	Key
	N int64 `json:"n"`
}

// Summary is what the index knows of a block of a document file without
// reading it: the whole lines [Off, End), and of those whose @timestamp
// is an RFC 3339 time (the others match no time range), how many, the
// oldest and newest, and their counts by Key.
type Summary struct {
	Off  int64 `json:"off"`
	End  int64 `json:"end"`
	Docs int64 `json:"docs"`
	// Min and Max are @timestamp in Unix nanoseconds; when a time does not
	// fit, they are math.MinInt64 and math.MaxInt64 and Over is set.
	Min  int64      `json:"min"`
	Max  int64      `json:"max"`
	Keys []KeyCount `json:"keys,omitempty"`
	// Over is set when the block has no Keys (too many distinct ones, a
	// value too long, or a time that does not fit): read it to count.
	Over bool `json:"over,omitempty"`
}

// MinTime and MaxTime are Min and Max as times.
func (s Summary) MinTime() time.Time { return time.Unix(0, s.Min).UTC() }

// MaxTime is the newest @timestamp of the block.
func (s Summary) MaxTime() time.Time { return time.Unix(0, s.Max).UTC() }

// fields are what a block counts a document by.
type fields struct {
	ok  bool // a JSON object with an RFC 3339 @timestamp
	at  time.Time
	key Key
}

// Field reads a dotted path ("log.level") of a decoded document, nested
// or written with its dots, as text (Text).
func Field(doc map[string]any, path string) string { return Text(Lookup(doc, path)) }

// Lookup reads a dotted path ("log.level") of a decoded document, nested
// or written with its dots; nil when it has none.
func Lookup(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		inner, _ := doc[path[:i]].(map[string]any)
		if inner == nil {
			return nil
		}
		return Lookup(inner, path[i+1:])
	}
	return nil
}

// Text is a scalar's text (a string, a number, true or false); "" for
// others.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

// builder sums up the block being written.
type builder struct {
	sum   Summary
	lines int
	first time.Time // of the block's first timed document
	// mixedMinute and mixedSlot are set once its timed documents are of
	// more than one minute, of more than one slot.
	mixedMinute, mixedSlot bool
	counts                 map[Key]int64
}

func (b *builder) reset(off int64) {
	b.sum = Summary{Off: off, End: off, Min: math.MaxInt64, Max: math.MinInt64}
	b.lines, b.mixedMinute, b.mixedSlot = 0, false, false
	clear(b.counts)
}

// endsBefore reports whether the block should end before a line of n
// bytes (newline included) with fields f.
func (b *builder) endsBefore(f fields, n int64) bool {
	if b.lines == 0 {
		return false
	}
	if b.sum.End-b.sum.Off+n > blockBytes {
		return true
	}
	if !f.ok || b.sum.Docs == 0 {
		return false
	}
	return (!b.mixedMinute && b.sum.Docs >= minuteBlockDocs && !sameSpan(f.at, b.first, time.Minute)) ||
		(!b.mixedSlot && !sameSpan(f.at, b.first, slot))
}

// sameSpan reports whether a and b fall in the same span of d, as the
// histogram's bars do (time.Truncate).
func sameSpan(a, b time.Time, d time.Duration) bool { return a.Truncate(d).Equal(b.Truncate(d)) }

// add counts a line of n bytes (newline included) with fields f.
func (b *builder) add(f fields, n int64) {
	b.lines++
	b.sum.End += n
	if !f.ok {
		return
	}
	if b.sum.Docs == 0 {
		b.first = f.at
	} else {
		b.mixedMinute = b.mixedMinute || !sameSpan(f.at, b.first, time.Minute)
		b.mixedSlot = b.mixedSlot || !sameSpan(f.at, b.first, slot)
	}
	b.sum.Docs++
	if y := f.at.Year(); y < 1678 || y > 2261 { // outside Unix nanoseconds
		b.sum.Min, b.sum.Max, b.sum.Over = math.MinInt64, math.MaxInt64, true
	} else if !b.sum.Over || b.sum.Min != math.MinInt64 {
		ns := f.at.UnixNano()
		b.sum.Min, b.sum.Max = min(b.sum.Min, ns), max(b.sum.Max, ns)
	}
	if b.sum.Over {
		return
	}
	k := f.key
	if len(k.Level) > maxKeyBytes || len(k.Agent) > maxKeyBytes || len(k.Topic) > maxKeyBytes {
		b.sum.Over = true
		return
	}
	if _, ok := b.counts[k]; !ok && len(b.counts) == maxBlockKeys {
		b.sum.Over = true
		return
	}
	if b.counts == nil {
		b.counts = map[Key]int64{}
	}
	b.counts[k]++
}

// summary is the block's Summary, its keys in order.
func (b *builder) summary() Summary {
	s := b.sum
	if !s.Over {
		for k, n := range b.counts {
			s.Keys = append(s.Keys, KeyCount{k, n})
		}
		slices.SortFunc(s.Keys, func(x, y KeyCount) int {
			return cmp.Or(cmp.Compare(x.Level, y.Level), cmp.Compare(x.Agent, y.Agent), cmp.Compare(x.Topic, y.Topic))
		})
	}
	return s
}

// timeUnknown reports whether a block's times did not fit Min and Max.
func (s Summary) timeUnknown() bool { return s.Min == math.MinInt64 }

// Overlaps reports whether some document of the block may have its
// @timestamp in [from, to).
func (s Summary) Overlaps(from, to time.Time) bool {
	if s.Docs == 0 {
		return false
	}
	return s.timeUnknown() || (!s.MaxTime().Before(from) && s.MinTime().Before(to))
}

// Within reports whether every document of the block with a @timestamp
// has it in [from, to).
func (s Summary) Within(from, to time.Time) bool {
	if s.Docs == 0 {
		return true
	}
	return !s.timeUnknown() && !s.MinTime().Before(from) && s.MaxTime().Before(to)
}
