// Package agent is the agent role: it registers the host in etcd under a
// lease, mirrors the host's job keys into the scheduler, and runs the
// collector that ships the jobs' lines to Kafka.
//
// It owns the start and stop order: the collector (the sink) starts first
// and stops last, after every tail job has stopped, so that everything
// Kafka stored is acked and the offsets are saved.
package agent
