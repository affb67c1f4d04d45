package handoff

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

type msg struct {
	acked atomic.Int32
}

func (m *msg) Event() (string, []byte) { return "t", []byte(`{}`) }
func (m *msg) Ack()                    { m.acked.Add(1) }

func TestPutBlocksWhenFullAndCountsPending(t *testing.T) {
	q := New(2)
	ctx := context.Background()
	a, b, c := &msg{}, &msg{}, &msg{}
	if !q.Put(ctx, a) || !q.Put(ctx, b) {
		t.Fatal("Put into a queue with room failed")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if q.Put(short, c) {
		t.Fatal("Put into a full queue returned before its context ended")
	}
	if q.Pending() != 2 {
		t.Fatalf("pending %d after a refused Put, want 2", q.Pending())
	}
	m := <-q.Messages()
	q.Ack(m)
	if a.acked.Load() != 1 || q.Pending() != 1 {
		t.Fatalf("after one Ack: acked %d, pending %d", a.acked.Load(), q.Pending())
	}
}

func TestDrainWaitsForEveryAck(t *testing.T) {
	q := New(10)
	ctx := context.Background()
	msgs := []*msg{{}, {}, {}}
	for _, m := range msgs {
		q.Put(ctx, m)
	}
	if q.Drain(20 * time.Millisecond) {
		t.Fatal("Drain reported done with 3 messages unacked")
	}
	go func() {
		for i := 0; i < 3; i++ {
			m := <-q.Messages()
			time.Sleep(10 * time.Millisecond)
			q.Ack(m)
		}
	}()
	if !q.Drain(5 * time.Second) {
		t.Fatalf("Drain timed out; pending %d", q.Pending())
	}
	for i, m := range msgs {
		if m.acked.Load() != 1 {
			t.Errorf("message %d acked %d times", i, m.acked.Load())
		}
	}
	q.Close()
	q.Close() // a second Close does nothing
	if _, open := <-q.Messages(); open {
		t.Error("Messages is open after Close")
	}
}
