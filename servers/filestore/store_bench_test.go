package filestore

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// BenchmarkWrite times Store.Write as the transfer calls it: batches of
// 1,000 documents of about 265 bytes (the console's search benchmark's
// events), each batch fsynced:
//
//	go test -run '^$' -bench Write -benchtime 300x -count 3 ./servers/filestore/
func BenchmarkWrite(b *testing.B) {
	const batch = 1000
	levels := []string{"info", "info", "info", "info", "info", "info", "debug", "warn", "info", "error"}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	s, err := Open(b.TempDir(), 7*24*time.Hour, day1, logrus.NewEntry(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	docs := make([]Doc, batch)
	seq := 0
	b.SetBytes(batch * 265)
	b.ResetTimer()
	for range b.N {
		b.StopTimer() // making the documents is not writing them
		for j := range docs {
			at := day1.Add(time.Duration(seq) * 86400 * time.Microsecond)
			id := fmt.Sprintf("b-%09d", seq)
			docs[j] = Doc{Index: "bench-2026.11.26", ID: id, Source: fmt.Appendf(nil,
				`{"@timestamp":%q,"message":"GET /api/orders/%d 200 %d ms user=u%d","agent":{"id":"10.0.0.%d"},"log":{"level":%q,"file":{"path":"/var/log/app/access.log"},"offset":%d},"event":{"id":%q,"dataset":"bench"}}`,
				at.Format("2006-01-02T15:04:05.000Z"), seq%5000, seq%300, seq%977, seq%5, levels[seq%len(levels)], int64(seq)*120, id)}
			seq++
		}
		b.StartTimer()
		if _, err := s.Write(docs, day1); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLine is one document as BenchmarkWrite writes them.
var benchLine = []byte(`{"@timestamp":"2026-11-26T10:00:08.640Z","message":"GET /api/orders/100 200 100 ms user=u100","agent":{"id":"10.0.0.0"},"log":{"level":"info","file":{"path":"/var/log/app/access.log"},"offset":12000},"event":{"id":"b-000000100","dataset":"bench"}}`)

// BenchmarkReadFields times what the index reads of each document
// written, against decoding it whole as the console does:
//
//	go test -run '^$' -bench ReadFields ./servers/filestore/
func BenchmarkReadFields(b *testing.B) {
	b.Run("quick", func(b *testing.B) {
		for b.Loop() {
			if !readFields(benchLine).ok {
				b.Fatal("not read")
			}
		}
	})
	b.Run("decoded", func(b *testing.B) {
		for b.Loop() {
			if !slowFields(benchLine).ok {
				b.Fatal("not read")
			}
		}
	})
}
