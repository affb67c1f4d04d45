package ack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Ticket names one item added to a Window; pass it to Done exactly once.
type Ticket uint64

// Window tracks up to a fixed number of in-flight items of one stream.
// Add is called by the stream's single reader, in stream order; Done may be
// called from any goroutine, in any order.
//
// Its ring grows with use up to the capacity, and Trim gives it back once
// it is empty: an idle stream costs a few hundred bytes, not its capacity.
type Window struct {
	capacity int
	space    chan struct{} // signalled when Done frees places; Add waits on it when full

	mu      sync.Mutex
	ring    []slot
	head    int    // index in ring of the oldest item in flight
	n       int    // items in flight
	headSeq uint64 // ticket of ring[head]
	nextSeq uint64 // ticket the next Add returns
	// idle is made by Idle while items are in flight, and closed by Done
	// when the last one is done; nil while no one waits.
	idle chan struct{}

	watermark atomic.Int64
}

type slot struct {
	pos  int64 // watermark once this item and all before it are done
	at   int64 // when the item was added (Unix nanoseconds); 0: not told (Add)
	done bool
}

// minRing is the ring's first size.
const minRing = 16

// NewWindow returns a window holding at most capacity items in flight, whose
// watermark starts at start (the saved offset the stream resumes from).
func NewWindow(capacity int, start int64) *Window {
	if capacity < 1 {
		capacity = 1
	}
	w := &Window{capacity: capacity, space: make(chan struct{}, 1)}
	w.watermark.Store(start)
	return w
}

// Add registers the next item of the stream; pos is the watermark the
// stream reaches once this item and every earlier one are done (for a file
// line: the offset just past its newline; for a Kafka message: offset+1).
// It blocks while the window is full and returns ctx's error if ctx ends
// first.
func (w *Window) Add(ctx context.Context, pos int64) (Ticket, error) {
	return w.AddAt(ctx, pos, time.Time{})
}

// AddAt is Add for an item read at at: Oldest then tells how long the
// oldest item in flight has waited.
func (w *Window) AddAt(ctx context.Context, pos int64, at time.Time) (Ticket, error) {
	var nanos int64
	if !at.IsZero() {
		nanos = at.UnixNano()
	}
	for {
		w.mu.Lock()
		if w.n < w.capacity {
			if w.n == len(w.ring) {
				w.grow()
			}
			w.ring[(w.head+w.n)%len(w.ring)] = slot{pos: pos, at: nanos}
			w.n++
			t := Ticket(w.nextSeq)
			w.nextSeq++
			w.mu.Unlock()
			return t, nil
		}
		w.mu.Unlock()
		select {
		case <-w.space:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Skip passes over an item that needs no completion (a line the reader
// drops): the watermark reaches pos once every item added before it is
// done, at once when none is in flight. It never blocks and takes no
// place: it moves the newest item's position to pos, which is the same
// watermark (nothing lies between that item and pos that still waits).
// Like Add, it is called by the stream's reader, in stream order.
func (w *Window) Skip(pos int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		if pos > w.watermark.Load() {
			w.watermark.Store(pos)
		}
		return
	}
	if s := &w.ring[(w.head+w.n-1)%len(w.ring)]; pos > s.pos {
		s.pos = pos
	}
}

// grow doubles the ring, up to the capacity, keeping the items in order.
func (w *Window) grow() {
	ring := make([]slot, min(max(2*len(w.ring), minRing), w.capacity))
	for i := 0; i < w.n; i++ {
		ring[i] = w.ring[(w.head+i)%len(w.ring)]
	}
	w.ring, w.head = ring, 0
}

// Trim gives back the ring of an empty window; the next Add starts a small
// one. Call it now and then (the agent does when it saves offsets), not
// after every Done: a busy stream empties often.
func (w *Window) Trim() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 && len(w.ring) > minRing {
		w.ring, w.head = nil, 0
	}
}

// Done marks the item as finished. It returns the new watermark and true
// when the watermark moved. Calling Done twice for one ticket, or with a
// ticket the window never issued, panics: it would corrupt the watermark.
func (w *Window) Done(t Ticket) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	off := uint64(t) - w.headSeq
	if uint64(t) < w.headSeq || off >= uint64(w.n) {
		panic(fmt.Sprintf("ack: ticket %d is not in flight (head %d, %d in flight)", t, w.headSeq, w.n))
	}
	s := &w.ring[(w.head+int(off))%len(w.ring)]
	if s.done {
		panic(fmt.Sprintf("ack: ticket %d done twice", t))
	}
	s.done = true
	moved := false
	var wm int64
	for w.n > 0 && w.ring[w.head].done {
		wm = w.ring[w.head].pos
		w.head = (w.head + 1) % len(w.ring)
		w.n--
		w.headSeq++
		moved = true
	}
	if !moved {
		return w.watermark.Load(), false
	}
	w.watermark.Store(wm)
	if w.n == 0 && w.idle != nil { // only when someone waits in Idle
		close(w.idle)
		w.idle = nil
	}
	select {
	case w.space <- struct{}{}: // wakes an Add waiting for a place
	default:
	}
	return wm, true
}

// Idle blocks until nothing is in flight, and returns nil then; it
// returns ctx's error if ctx ends first. It is for the stream's reader,
// which adds nothing while it waits: items added meanwhile by another
// goroutine would count too, and Idle would return only when they were
// done as well. It costs Done nothing unless someone waits.
func (w *Window) Idle(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Oldest returns when the oldest item in flight was added (by AddAt); ok
// is false when nothing is in flight or that item's time was not given.
func (w *Window) Oldest() (at time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 || w.ring[w.head].at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, w.ring[w.head].at), true
}

// Watermark returns the position up to which every item is done.
func (w *Window) Watermark() int64 { return w.watermark.Load() }

// InFlight returns the number of items added and not yet passed by the
// watermark.
func (w *Window) InFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}
