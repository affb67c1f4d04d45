// Package transfer is the transfer role: a Kafka consumer group
// (consumer.go) feeds a bounded channel of documents that N workers write
// to Elasticsearch in bulks (bulk.go).
//
// A Kafka offset is marked only when the document of that message and of
// every earlier message of its partition is stored (or dead-lettered);
// package ack keeps that watermark. Document ids come from the record's
// event.id, so a replay overwrites instead of duplicating. Nothing here
// talks to the agent or changes etcd.
package transfer
