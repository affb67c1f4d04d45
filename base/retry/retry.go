// Package retry is brun's one way of trying again: an exponential
// backoff with full jitter, and a rule for which failures of a repeated
// attempt are worth a log line. Every loop that waits on a server (Kafka,
// Elasticsearch, etcd, the disk) uses it, so they all back off alike and
// none floods the log while a server is down.
//
// It imports nothing from the project and does no I/O of its own.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait between attempts: a random time up to a step that
// starts at Min and doubles after each wait, up to Max (full jitter, so
// many clients that failed together do not retry together). The zero
// value waits up to 100 ms, then up to 10 s.
type Backoff struct {
	Min, Max time.Duration
	step     time.Duration
}

const (
	defaultMin = 100 * time.Millisecond
	defaultMax = 10 * time.Second
)

// Next returns the next wait and doubles the step.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = defaultMin
	}
	if hi <= 0 {
		hi = defaultMax
	}
	hi = max(hi, lo)
	if b.step < lo {
		b.step = lo
	}
	d := time.Duration(rand.Int64N(int64(b.step))) + time.Millisecond
	b.step = min(b.step*2, hi)
	return d
}

// Wait waits Next() or until ctx ends; it returns false when ctx ended.
func (b *Backoff) Wait(ctx context.Context) bool {
	return Sleep(ctx, b.Next())
}

// Reset starts again from Min: call it after a success.
func (b *Backoff) Reset() { b.step = 0 }

// Sleep waits d or until ctx ends; it returns false when ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Quiet decides which failures of a repeated attempt are logged: the
// first, one whose message differs from the last one logged, and every
// tenth in a row, so a server down for an hour leaves a few lines, not
// thousands. The zero value is ready.
type Quiet struct {
	last     string
	failures int
}

// Failed records a failure; it reports whether to log it, and which
// attempt in a row it is (from 1).
func (q *Quiet) Failed(err error) (say bool, attempt int) {
	q.failures++
	msg := err.Error()
	say = q.failures == 1 || msg != q.last || q.failures%10 == 0
	q.last = msg
	return say, q.failures
}

// Recovered records a success; it reports whether failures came before
// it (worth an "again" line).
func (q *Quiet) Recovered() bool {
	had := q.failures > 0
	q.failures, q.last = 0, ""
	return had
}

// Do calls op until it returns nil or ctx ends, waiting b between
// attempts. fail is called with the failures worth logging (see Quiet)
// and the attempt number; it may be nil. Do returns nil once op
// succeeded, or ctx's error.
func Do(ctx context.Context, b Backoff, op func() error, fail func(err error, attempt int)) error {
	var q Quiet
	for {
		err := op()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if say, n := q.Failed(err); say && fail != nil {
			fail(err, n)
		}
		if !b.Wait(ctx) {
			return ctx.Err()
		}
	}
}
