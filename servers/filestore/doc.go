// Package filestore keeps documents in NDJSON files under a directory, in
// place of Elasticsearch, when es.endpoints is empty:
//
//	<dir>/<yyyy-mm-dd>/<index>.ndjson
//
// one file per index and UTC day of writing, one document (what would be
// Elasticsearch's _source) per line. Day directories older than the
// configured age are removed.
//
//	store.go   the writer the transfer uses: appends, fsyncs, skips ids
//	           it has already written (replays after a crash or a
//	           rebalance)
//	recent.go  the bounded set of recently written ids
//	read.go    the readers the console uses: the newest documents first
//	           (Latest), or each document from a day on (Each)
//
// A Write returns only once its documents are on disk (fsync), so the
// transfer acks nothing that a crash could lose. A failed Write leaves its
// files as they were before it. It must never rewrite a document already
// written, and it knows nothing of Kafka, agents or jobs.
package filestore
