// Package event owns the record brun sends through Kafka: a JSON document
// with Elastic Common Schema names (@timestamp, message, host.name,
// agent.id, log.file.path, log.offset, event.id), how the agent encodes it
// on the hot path and how the transfer reads back what it needs.
//
// Invalid UTF-8 in a line is replaced by U+FFFD, one per bad byte, as
// Go's encoding/json does; every other byte of the line is kept, so the
// JSON is always valid and valid text arrives byte-exact.
//
// It is a leaf: it imports nothing else from brun and does no I/O.
package event
