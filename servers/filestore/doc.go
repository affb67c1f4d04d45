// Package filestore keeps documents in NDJSON files under a directory, in
// place of Elasticsearch, when es.endpoints is empty:
//
//	<dir>/<yyyy-mm-dd>/<index>.ndjson
//	<dir>/<yyyy-mm-dd>/<index>.ndjson.idx
//
// one file per index and UTC day of writing, one document (what would be
// Elasticsearch's _source) per line, and beside it its sparse index: per
// block of about 256 KiB of lines (ending early where a minute or a
// 30-minute slot of @timestamp ends), the block's offsets, oldest and
// newest @timestamp, and its counts by (log.level, agent.id,
// event.dataset), so that a search counts a block that lies whole in its
// range without reading it. Day directories older than the configured
// age are removed with their indexes.
//
//	store.go    the writer the transfer uses: appends, fsyncs, skips ids
//	            it has already written (replays after a crash or a
//	            rebalance)
//	recent.go   the bounded set of recently written ids
//	index.go    the index: its format, kept as the Store appends, made to
//	            agree with its file when the Store opens it
//	summary.go  what a block counts (Summary) and how it is summed up
//	scan.go     the one pass over a document that reads what its block
//	            counts, as the console's decoding would
//	read.go     the readers the console uses: the newest documents first
//	            (Latest), each document from a day on (Each), the blocks
//	            of the files from their indexes (Blocks) and the lines of
//	            one (ReadBlock)
//
// A Write returns only once its documents are on disk (fsync), so the
// transfer acks nothing that a crash could lose. A failed Write leaves its
// files as they were before it. It must never rewrite a document already
// written, and it knows nothing of Kafka, agents or jobs. An index names
// only lines already on disk; a file without one (written before indexes
// were) or the lines after its last block are read whole, so an index
// lost or cut costs reading time, never a document.
package filestore
