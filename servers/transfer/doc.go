// Package transfer is the transfer role: Kafka → Elasticsearch.
//
//	consumer.go  the franz-go consumer group: records of each assigned
//	             partition become documents; watermarks are committed
//	document.go  a document: its _bulk lines, its completion, dead letters
//	record.go    finding fields in a record without decoding it
//	index.go     es.index: index names and the template's pattern
//	enrich/      time and level of plain lines
//	bulk.go      es.nums writers: bulks, per-item retries, splits
//	es.go        the client, readiness, index templates
//	topics.go    which topics: transfer.topics or every job's, from etcd
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
