// Package transfer is the transfer role: Kafka → Elasticsearch.
//
//	consumer.go  the franz-go consumer group: records of each assigned
//	             partition become documents; watermarks are committed
//	document.go  a document: its _bulk lines, its completion, dead letters
//	record.go    finding fields in a record without decoding it
//	index.go     es.index: index names and the template's pattern
//	enrich/      time and level of plain lines
//	bulk.go      the writers: batches by count, bytes and time, handed
//	             to the writer's sink
//	essink.go    the Elasticsearch sink: _bulk, per-item retries, splits,
//	             dead letters
//	local.go     the stand-ins: the agent's events handed over in process
//	             (no Kafka), and the local-files sink (no Elasticsearch)
//	es.go        readiness and index templates (the client is base/esx)
//	topics.go    which topics: transfer.topics or every job's, from etcd
//
// Each document carries its own completion, built by its source: the
// Kafka claim's finishes its place in the partition's window, the
// hand-off's acks the agent's event. A sink completes what it stored and
// never asks where a document came from.
//
// A Kafka offset is committed only when the document of that message and of
// every earlier message of its partition is stored (or dead-lettered);
// package ack keeps that watermark. Document ids come from the record's
// event.id (or topic-partition-offset), indexed with op_type index, so a
// replay overwrites instead of duplicating.
//
// It must never commit an offset whose document is not stored, never drop
// a document Elasticsearch refused (it goes to deadletter-YYYY.MM.DD), and
// never let memory grow while Elasticsearch is down: the channel and the
// windows are bounded and the consumers wait. Nothing here talks to the
// agent or changes etcd.
package transfer
