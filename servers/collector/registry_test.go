package collector

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"brun/servers/ack"
)

func TestRegistrySavesWatermarksAndReloads(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.NewReader([]byte(strings.Repeat("line\n", 300)))
	pos, gen, restarted := r.Claim("job", "/x.log", 1, 2, content, content.Size(), 0)
	if pos.Offset != 0 || restarted {
		t.Fatalf("new file: %+v restarted=%v", pos, restarted)
	}
	win := ack.NewWindow(8, 0)
	r.Track("job", 1, 2, gen, win)
	a, _ := win.Add(context.Background(), 5)
	b, _ := win.Add(context.Background(), 10)
	win.Done(b) // a later line acked first: the watermark must not move
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := r.Snapshot()[0].Offset; got != 0 {
		t.Fatalf("saved %d before the first line was acked", got)
	}
	win.Done(a)
	r.Flush()

	r2, err := OpenRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	pos, _, restarted = r2.Claim("job", "/x.log", 1, 2, content, content.Size(), 0)
	if pos.Offset != 10 || restarted {
		t.Fatalf("after reload: %+v restarted=%v", pos, restarted)
	}

	// The same device and inode with other first bytes is another file.
	other := bytes.NewReader([]byte(strings.Repeat("else\n", 300)))
	pos, _, restarted = r2.Claim("job", "/x.log", 1, 2, other, other.Size(), 0)
	if pos.Offset != 0 || !restarted || pos.Truncations != 1 {
		t.Fatalf("reused inode not detected: %+v restarted=%v", pos, restarted)
	}
}

func TestRegistryRejectsCorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := writeAtomic(dir+"/"+registryFile, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRegistry(dir); err == nil || !strings.Contains(err.Error(), registryFile) {
		t.Fatalf("corrupt registry: %v", err)
	}
}
