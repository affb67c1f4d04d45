// Package metrics declares every Prometheus series brun exports, in one
// place, so that /metrics reads the same on every role and a newcomer finds
// them all here. Packages update the series; only the console (or the
// metrics listener of an agent-only host) serves them.
//
// Per-job and per-topic children are looked up once per job or stream, not
// per line: the hot path only adds to a counter.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Registry holds brun's series plus the Go and process collectors.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "brun", Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "brun", Name: name, Help: help}, labels)
	Registry.MustRegister(g)
	return g
}

func plainGauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "brun", Name: name, Help: help})
	Registry.MustRegister(g)
	return g
}

// Agent series.
var (
	LinesRead      = counter("agent_lines_read_total", "Lines read from files.", "job")
	BytesRead      = counter("agent_bytes_read_total", "Bytes read from files, line endings included.", "job")
	EventsSent     = counter("agent_events_sent_total", "Events handed to the Kafka producer.", "topic")
	EventsAcked    = counter("agent_events_acked_total", "Events Kafka acknowledged.", "topic")
	EventsDropped  = counter("agent_events_dropped_total", "Events a job's include_lines or exclude_lines kept from being sent.", "job")
	ProduceErrors  = counter("kafka_produce_errors_total", "Records Kafka refused after the producer's own retries.", "topic")
	ProduceRetries = counter("kafka_produce_retries_total", "Records sent again after Kafka refused them.", "topic")
	Unacked        = plainGauge("agent_unacked_events", "Events sent and not yet acknowledged by Kafka.")
	LineQueue      = plainGauge("agent_queue_depth", "Events in the agent's line channel (kafka.chanMsgSize).")
	Jobs           = gauge("agent_jobs", "Jobs of this agent by state.", "state")
	// Per file, updated with the agent's status (every 5 s); a file the
	// agent no longer reads has no series.
	FileLag           = gauge("agent_file_lag_bytes", "Bytes of a file not yet acknowledged by Kafka: its size less its saved offset.", "job", "path")
	FileOldestUnacked = gauge("agent_file_oldest_unacked_seconds", "Age of the oldest line of a file read and not yet acknowledged; 0 when every line read is.", "job", "path")
	OpenFiles         = plainGauge("agent_open_files", "Files the agent's jobs are reading.")
)

// BuildInfo is 1, labelled with what was built: version, commit and Go
// version, as Prometheus exporters do.
var BuildInfo = gauge("build_info", "Always 1; the labels say which build of brun this is.", "version", "commit", "goversion")

// Transfer series.
var (
	DocsIndexed      = counter("transfer_docs_indexed_total", "Documents Elasticsearch stored.", "topic")
	DocsRetried      = counter("transfer_docs_retried_total", "Documents sent again after a retryable failure.", "topic")
	DocsDeadLettered = counter("transfer_docs_deadlettered_total", "Documents Elasticsearch refused for good, written to the dead-letter index.", "topic")
	BulkSeconds      = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "brun", Name: "transfer_bulk_seconds", Help: "Duration of _bulk requests.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"outcome"})
	ConsumerLag = gauge("transfer_consumer_lag", "Messages between a partition's high-water mark and the last consumed offset.", "topic", "partition")
	DocQueue    = plainGauge("transfer_queue_depth", "Documents in the transfer's channel (es.chanSize).")
)

// Console series.
var (
	RegisteredAgents = plainGauge("registered_agents", "Agents with a live registration in etcd.")
	ConfiguredJobs   = plainGauge("configured_jobs", "Jobs in etcd, all agents.")
)

func init() {
	Registry.MustRegister(BulkSeconds)
}
