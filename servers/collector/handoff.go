package collector

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"brun/servers/handoff"
)

// handoffDrain bounds how long, at shutdown, the agent waits for the
// transfer to store what was handed over; what it has not stored by then
// is read again from the files after a restart.
const handoffDrain = 10 * time.Second

// handoffSink is the sink when kafka.endpoints is empty: it hands each
// record to the transfer of this process, which acks it once stored.
type handoffSink struct {
	in  <-chan *Record
	q   *handoff.Queue
	log *logrus.Entry
}

// Event returns the record's topic and value (handoff.Message).
func (r *Record) Event() (topic string, value []byte) { return r.Topic, r.Value }

func (s *handoffSink) run(ctx context.Context) {
	s.log.Info("kafka.endpoints is empty: handing events to the transfer in this process")
loop:
	for {
		select {
		case rec := <-s.in:
			if !s.q.Put(ctx, rec) {
				break loop
			}
		case <-ctx.Done():
			break loop
		}
	}
	if !s.q.Drain(handoffDrain) {
		s.log.Warnf("%d event(s) handed to the transfer were not stored within %v; they are read again from their files after a restart", s.q.Pending(), handoffDrain)
	}
	s.q.Close()
}
