// Package collector owns the agent's data path: reading files line by line
// (reader.go, tailjob.go), the registry of acknowledged offsets
// (registry.go) and the sink: the Kafka producer (producer.go) or, when
// kafka.endpoints is empty, the hand-off to the transfer in this process
// (handoff.go); reader and sink are joined by one bounded channel of
// Records.
//
// A job (tailjob.go) finds its files and runs one harvester per file
// (harvester.go). A harvester is given what it uses and nothing it could
// reach through: its file's cursor in the registry (cursor.go), its
// output (the line channel and the largest record the sink takes,
// record.go), its job's spec, counters, agent.allow and logger. The job
// reads the harvester's status from what it publishes.
//
// A file offset is saved only when the sink has acknowledged every line
// before it (package ack keeps that watermark). Nothing here drops a line
// the job asked for: a full channel or ack window makes the reader wait,
// a refused record is sent again. Only a job's include_lines and
// exclude_lines leave events out (filter.go), and the offset passes them
// as if they were acknowledged. It must never talk to etcd; the scheduler starts and stops
// jobs.
package collector
