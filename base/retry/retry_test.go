package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoffDoublesWithinBounds(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	steps := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, step := range steps {
		step *= time.Millisecond
		for range 50 {
			probe := b // a copy at the same step
			if d := probe.Next(); d <= 0 || d > step+time.Millisecond {
				t.Fatalf("wait %d: %v, want in (0, %v]", i, d, step+time.Millisecond)
			}
		}
		b.Next()
	}
	b.Reset()
	for range 50 {
		probe := b
		if d := probe.Next(); d > 11*time.Millisecond {
			t.Fatalf("after Reset: %v, want at most Min", d)
		}
	}
}

func TestBackoffZeroValueAndWaitEndsWithContext(t *testing.T) {
	var b Backoff
	if d := b.Next(); d <= 0 || d > defaultMin+time.Millisecond {
		t.Fatalf("zero value's first wait %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	long := Backoff{Min: time.Hour, Max: time.Hour}
	if long.Wait(ctx) {
		t.Fatal("Wait returned true with an ended context")
	}
}

func TestQuietSaysFirstChangedAndEveryTenth(t *testing.T) {
	var q Quiet
	var said []int
	for i := 1; i <= 25; i++ {
		msg := "down"
		if i == 5 {
			msg = "refused"
		}
		if say, n := q.Failed(errors.New(msg)); say {
			said = append(said, n)
		}
	}
	if got, want := fmt.Sprint(said), "[1 5 6 10 20]"; got != want {
		t.Fatalf("logged attempts %s, want %s", got, want)
	}
	if !q.Recovered() {
		t.Fatal("Recovered after failures reported none")
	}
	if q.Recovered() {
		t.Fatal("second Recovered reported failures")
	}
	if say, n := q.Failed(errors.New("down")); !say || n != 1 {
		t.Fatalf("first failure after recovery: say %v attempt %d", say, n)
	}
}

func TestDoRetriesUntilSuccessAndReportsFailures(t *testing.T) {
	calls := 0
	var reported []int
	err := Do(context.Background(), Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, func() error {
		calls++
		if calls < 4 {
			return errors.New("not yet")
		}
		return nil
	}, func(err error, attempt int) { reported = append(reported, attempt) })
	if err != nil || calls != 4 {
		t.Fatalf("Do: err %v after %d calls, want nil after 4", err, calls)
	}
	if fmt.Sprint(reported) != "[1]" {
		t.Fatalf("reported %v, want only the first failure", reported)
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, Backoff{Min: time.Millisecond}, func() error {
		calls++
		if calls == 3 {
			cancel()
		}
		return errors.New("down")
	}, nil)
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Fatalf("Do: err %v after %d calls, want Canceled after 3", err, calls)
	}
}
