// Package collector owns the agent's data path: reading files line by line
// (reader.go, tailjob.go), the registry of acknowledged offsets
// (registry.go) and the sink: the Kafka producer (producer.go) or, when
// kafka.endpoints is empty, the hand-off to the transfer in this process
// (handoff.go); reader and sink are joined by one bounded channel of
// Records.
//
// A file offset is saved only when the sink has acknowledged every line
// before it (package ack keeps that watermark). Nothing here drops a line:
// a full channel or ack window makes the reader wait, a refused record is
// sent again. It must never talk to etcd; the scheduler starts and stops
// jobs.
package collector
