// Package handoff carries events from the agent to the transfer inside one
// process, in place of Kafka, when kafka.endpoints is empty.
//
// It keeps Kafka's contract with both sides: the agent's sink hands over
// each event and the event's file offset may advance only after the
// transfer acks it, which it does once the event is stored. The queue is
// bounded: when the transfer can't store, Put blocks, the agent's line
// channel fills and its readers wait.
//
// It must stay a leaf: it knows neither the agent's records nor the
// transfer's documents, only the Message interface.
package handoff

import (
	"context"
	"sync"
	"time"
)

// Message is one event handed over. The agent's record implements it.
type Message interface {
	// Event returns the topic the event belongs to and its value, the JSON
	// document that would be the Kafka record's value. The transfer must not
	// change value.
	Event() (topic string, value []byte)
	// Ack reports the event stored. It is called exactly once, by the
	// transfer, through Queue.Ack.
	Ack()
}

// Queue is the bounded channel between the agent's sink (the only
// producer) and the transfer (the only consumer).
type Queue struct {
	ch    chan Message
	close sync.Once

	mu      sync.Mutex
	pending int           // handed over, not yet acked
	idle    chan struct{} // closed when pending drops to 0; nil while it is 0
}

// New returns a queue holding at most size messages besides those the
// transfer has taken.
func New(size int) *Queue { return &Queue{ch: make(chan Message, size)} }

// Put hands m to the transfer, blocking while the queue is full. It
// returns false, without handing m over, when ctx ends first.
func (q *Queue) Put(ctx context.Context, m Message) bool {
	q.mu.Lock()
	q.pending++
	q.mu.Unlock()
	select {
	case q.ch <- m:
		return true
	case <-ctx.Done():
		q.settle()
		return false
	}
}

// Messages is the transfer's end. It is closed by Close, after the last
// Put.
func (q *Queue) Messages() <-chan Message { return q.ch }

// Ack acks m, which the transfer has stored.
func (q *Queue) Ack(m Message) {
	m.Ack()
	q.settle()
}

func (q *Queue) settle() {
	q.mu.Lock()
	q.pending--
	if q.pending == 0 && q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
	q.mu.Unlock()
}

// Pending returns how many messages were handed over and not yet acked.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Drain waits until every message handed over is acked, or timeout
// passes; it reports whether all were. The producer calls it after its
// last Put, so that what the transfer stored is acked before the agent
// saves its offsets.
func (q *Queue) Drain(timeout time.Duration) bool {
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return true
	}
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	idle := q.idle
	q.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// Close tells the transfer no message will follow. Only the producer
// calls it, after its last Put; calls after the first do nothing.
func (q *Queue) Close() { q.close.Do(func() { close(q.ch) }) }
