// Package ack tracks the items in flight of one ordered stream (the lines of
// a file, the messages of a Kafka partition) and yields the contiguous
// watermark: the position up to which every item is done. Only that
// watermark may be saved or committed; an item done early does not move it
// past an earlier item still in flight.
//
// A Window is bounded: Add blocks while it is full, which is how a slow or
// down downstream holds back the reader instead of memory growing.
//
// It is a leaf: it imports nothing else from brun and does no I/O.
package ack
