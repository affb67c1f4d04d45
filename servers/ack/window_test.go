package ack

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"
)

func TestWatermarkIsContiguous(t *testing.T) {
	cases := []struct {
		name  string
		order []int   // indexes of items, in the order they are done
		want  []int64 // watermark after each Done
	}{
		{"in order", []int{0, 1, 2}, []int64{10, 20, 30}},
		{"later first holds back", []int{2, 1, 0}, []int64{5, 5, 30}},
		{"gap in the middle", []int{0, 2, 1}, []int64{10, 10, 30}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWindow(8, 5)
			var ts []Ticket
			for _, pos := range []int64{10, 20, 30} {
				tk, err := w.Add(context.Background(), pos)
				if err != nil {
					t.Fatal(err)
				}
				ts = append(ts, tk)
			}
			for i, idx := range c.order {
				got, _ := w.Done(ts[idx])
				if got != c.want[i] {
					t.Fatalf("after done #%d (item %d): watermark %d, want %d", i, idx, got, c.want[i])
				}
			}
			if w.InFlight() != 0 {
				t.Fatalf("in flight %d, want 0", w.InFlight())
			}
		})
	}
}

func TestAddBlocksWhenFull(t *testing.T) {
	w := NewWindow(2, 0)
	a, _ := w.Add(context.Background(), 1)
	w.Add(context.Background(), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := w.Add(ctx, 3); err == nil {
		t.Fatal("Add on a full window returned without waiting")
	}
	// Finishing the oldest item frees a place.
	w.Done(a)
	if _, err := w.Add(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
}

func TestDoneTwicePanics(t *testing.T) {
	w := NewWindow(4, 0)
	a, _ := w.Add(context.Background(), 1)
	b, _ := w.Add(context.Background(), 2)
	w.Done(b)
	defer func() {
		if recover() == nil {
			t.Fatal("second Done of one ticket did not panic")
		}
	}()
	w.Done(b)
	_ = a
}

// Many goroutines finishing items in random order never let the watermark
// pass an unfinished item, and it ends at the last position.
func TestConcurrentRandomOrder(t *testing.T) {
	const n = 20000
	w := NewWindow(256, 0)
	done := make([]bool, n+1)
	var mu sync.Mutex
	var checked int64 // every item up to here was verified done; under mu
	tickets := make(chan struct {
		t   Ticket
		pos int64
	}, 256)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []struct {
				t   Ticket
				pos int64
			}
			flush := func() {
				rand.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
				for _, h := range held {
					mu.Lock()
					done[h.pos] = true
					mu.Unlock()
					wm, _ := w.Done(h.t)
					mu.Lock()
					for p := checked + 1; p <= wm; p++ {
						if !done[p] {
							mu.Unlock()
							t.Errorf("watermark %d passed unfinished item %d", wm, p)
							return
						}
					}
					if wm > checked {
						checked = wm
					}
					mu.Unlock()
				}
				held = held[:0]
			}
			// Hold up to 8 tickets and finish them shuffled; finish what is held
			// whenever no new ticket is waiting, since the reader may be blocked
			// on a window that only those held tickets can free.
			for {
				select {
				case tk, ok := <-tickets:
					if !ok {
						flush()
						return
					}
					held = append(held, tk)
					if len(held) == 8 {
						flush()
					}
				default:
					flush()
					tk, ok := <-tickets
					if !ok {
						return
					}
					held = append(held, tk)
				}
			}
		}()
	}
	for p := int64(1); p <= n; p++ {
		tk, err := w.Add(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		tickets <- struct {
			t   Ticket
			pos int64
		}{tk, p}
	}
	close(tickets)
	wg.Wait()
	if got := w.Watermark(); got != n {
		t.Fatalf("final watermark %d, want %d", got, n)
	}
}

// Oldest is the time of the oldest item in flight: it moves when that
// item is done, not when a later one is, and is gone when none is left.
func TestWindowOldest(t *testing.T) {
	w := NewWindow(4, 0)
	if _, ok := w.Oldest(); ok {
		t.Fatal("an empty window has an oldest item")
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, _ := w.AddAt(context.Background(), 10, t0)
	b, _ := w.AddAt(context.Background(), 20, t0.Add(time.Second))
	w.Done(b)
	if at, ok := w.Oldest(); !ok || !at.Equal(t0) {
		t.Fatalf("Oldest = %v, %v; want %v (the first item is still in flight)", at, ok, t0)
	}
	w.Done(a)
	if at, ok := w.Oldest(); ok {
		t.Fatalf("Oldest = %v with nothing in flight", at)
	}
}

// The ring grows to the capacity and no further, keeps the items' order
// across growth, and Trim empties it only when nothing is in flight.
func TestWindowGrowsAndTrims(t *testing.T) {
	w := NewWindow(100, 0)
	var tk []Ticket
	for i := 1; i <= 100; i++ {
		k, err := w.Add(context.Background(), int64(i))
		if err != nil {
			t.Fatal(err)
		}
		tk = append(tk, k)
	}
	if len(w.ring) != 100 {
		t.Fatalf("ring of %d for 100 items in flight, capacity 100", len(w.ring))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := w.Add(ctx, 101); err == nil {
		t.Fatal("Add past the capacity did not wait")
	}
	w.Trim()
	if len(w.ring) != 100 {
		t.Fatal("Trim dropped the ring of a window with items in flight")
	}
	for i := len(tk) - 1; i >= 0; i-- { // done newest first: the watermark moves only at the end
		wm, moved := w.Done(tk[i])
		if moved != (i == 0) || (i == 0 && wm != 100) {
			t.Fatalf("Done(%d): watermark %d, moved %v", i, wm, moved)
		}
	}
	w.Trim()
	if w.ring != nil {
		t.Fatalf("Trim kept a ring of %d with nothing in flight", len(w.ring))
	}
	if k, err := w.Add(context.Background(), 101); err != nil || w.Watermark() != 100 {
		t.Fatalf("Add after Trim: %v, %v; watermark %d", k, err, w.Watermark())
	}
}

// Idle returns only once every item is done, in whatever order, wakes
// every goroutine waiting in it, and works again after the window filled
// up anew.
func TestIdleWaitsForTheLastDone(t *testing.T) {
	w := NewWindow(8, 0)
	if err := w.Idle(canceled()); err != nil {
		t.Fatalf("Idle on an empty window: %v, want nil at once", err)
	}
	for round := 0; round < 2; round++ {
		var tk []Ticket
		for pos := int64(1); pos <= 3; pos++ {
			k, err := w.Add(context.Background(), pos)
			if err != nil {
				t.Fatal(err)
			}
			tk = append(tk, k)
		}
		idle := make(chan error, 2)
		for i := 0; i < 2; i++ {
			go func() { idle <- w.Idle(context.Background()) }()
		}
		waitWaiting(t, w)
		for _, i := range []int{2, 0} { // the middle item stays in flight
			w.Done(tk[i])
			if err := w.Idle(canceled()); err == nil {
				t.Fatalf("round %d: Idle returned nil with item 1 in flight", round)
			}
			select {
			case err := <-idle:
				t.Fatalf("round %d: Idle returned (%v) with item 1 in flight", round, err)
			default:
			}
		}
		w.Done(tk[1])
		for i := 0; i < 2; i++ {
			select {
			case err := <-idle:
				if err != nil {
					t.Fatalf("round %d: Idle: %v", round, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: Idle did not return after the last Done", round)
			}
		}
	}
}

// Idle gives up with ctx's error when ctx ends while items are in flight.
func TestIdleEndsWithItsContext(t *testing.T) {
	w := NewWindow(4, 0)
	k, _ := w.Add(context.Background(), 1)
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan error, 1)
	go func() { idle <- w.Idle(ctx) }()
	waitWaiting(t, w)
	cancel()
	select {
	case err := <-idle:
		if err != context.Canceled {
			t.Fatalf("Idle after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Idle did not return when its context ended")
	}
	w.Done(k) // closes the channel the cancelled waiter left behind
	if err := w.Idle(canceled()); err != nil {
		t.Fatalf("Idle on the emptied window: %v", err)
	}
}

// canceled returns a context that has already ended.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// waitWaiting waits until a goroutine is waiting in w.Idle, so the test
// checks the wake-up by Done, not Idle's look at an empty window.
func waitWaiting(t *testing.T, w *Window) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		waiting := w.idle != nil
		w.mu.Unlock()
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no goroutine started waiting in Idle")
		}
		time.Sleep(time.Millisecond)
	}
}

// A skipped item moves the watermark like a done one: at once with nothing
// in flight, else with the item before it, never past an item not done.
func TestSkip(t *testing.T) {
	w := NewWindow(4, 0)
	w.Skip(5)
	if w.Watermark() != 5 || w.InFlight() != 0 {
		t.Fatalf("skip on an empty window: watermark %d, in flight %d; want 5, 0", w.Watermark(), w.InFlight())
	}
	a, _ := w.Add(context.Background(), 10)
	b, _ := w.Add(context.Background(), 20)
	w.Skip(30)
	w.Skip(40)
	if w.InFlight() != 2 {
		t.Fatalf("skips took places: %d in flight", w.InFlight())
	}
	if wm, _ := w.Done(b); wm != 5 {
		t.Fatalf("watermark %d with the first item not done, want 5", wm)
	}
	if wm, _ := w.Done(a); wm != 40 {
		t.Fatalf("watermark %d after every item, want 40 (past the skipped ones)", wm)
	}
	c, _ := w.Add(context.Background(), 50)
	w.Skip(60)
	if wm, _ := w.Done(c); wm != 60 {
		t.Fatalf("watermark %d, want 60", wm)
	}
}
