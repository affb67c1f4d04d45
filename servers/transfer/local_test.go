package transfer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"brun/base/config"
	"brun/servers/handoff"
)

// event is an agent's record handed over in process. Its Ack checks that
// the document is in the local files by then: acked means stored.
type handedEvent struct {
	t     *testing.T
	dir   string
	id    string
	value []byte

	mu    sync.Mutex
	acked int
}

func (e *handedEvent) Event() (string, []byte) { return "App", e.value }

func (e *handedEvent) Ack() {
	files, _ := filepath.Glob(filepath.Join(e.dir, "*", "app-"+lineDay+".ndjson"))
	stored := false
	for _, f := range files {
		data, _ := os.ReadFile(f)
		stored = stored || bytes.Contains(data, []byte(`"id":"`+e.id+`"`))
	}
	if !stored {
		e.t.Errorf("event %s acked before it was in the local files", e.id)
	}
	e.mu.Lock()
	e.acked++
	e.mu.Unlock()
}

func localConfig(t *testing.T) *config.Config {
	c := config.Default()
	c.Brun.DataDir = t.TempDir()
	c.ES.FlushInterval = 20 * time.Millisecond
	c.ES.BulkActions = 64
	return &c
}

// Events handed over by the agent become documents in the local files,
// each acked once stored; sent again (a replay after a crash), they are
// acked without a second copy. The transfer stops when the agent closes
// the queue.
func TestHandoffToLocalFiles(t *testing.T) {
	cfg := localConfig(t)
	q := handoff.New(16)
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg, nil, q, nil) }()

	var events []*handedEvent
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("0123456789abcdef-%x", i*100)
		value := fmt.Sprintf(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":%q,"event":{"id":%q}}`, fmt.Sprintf(lineText, i), id)
		events = append(events, &handedEvent{t: t, dir: cfg.LocalESDir(), id: id, value: []byte(value)})
	}
	ctx := context.Background()
	for _, e := range events {
		q.Put(ctx, e)
	}
	for _, e := range events[100:200] { // a replay
		q.Put(ctx, e)
	}
	if !q.Drain(30 * time.Second) {
		t.Fatalf("%d events not acked", q.Pending())
	}
	q.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the transfer did not stop after the queue was closed")
	}
	for i, e := range events {
		want := 1
		if i >= 100 && i < 200 {
			want = 2
		}
		if e.acked != want {
			t.Errorf("event %d acked %d times, want %d", i, e.acked, want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(cfg.LocalESDir(), "*", "*.ndjson"))
	if len(files) != 1 || filepath.Base(files[0]) != "app-"+lineDay+".ndjson" {
		t.Fatalf("files %v, want one of index app-%s", files, lineDay)
	}
	data, _ := os.ReadFile(files[0])
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d documents, want 300", len(lines))
	}
	// The same document Elasticsearch would get: the line's time and
	// level, the read time kept.
	if !strings.Contains(lines[7], `"log":{"level":"info"}`) || !strings.Contains(lines[7], `"@timestamp":"2026-11-25T04:05:06.789Z"`) {
		t.Errorf("document: %s", lines[7])
	}
}
