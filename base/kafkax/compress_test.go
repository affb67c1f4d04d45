package kafkax

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// brun's lz4 frames declare 256 KiB blocks and read back with franz-go's
// own decompressor (what a consumer of any client does).
func TestLz4FramesHaveSmallBlocksAndReadBack(t *testing.T) {
	c, err := Compressor("lz4")
	if err != nil {
		t.Fatal(err)
	}
	src := []byte(strings.Repeat(`{"message":"2026-12-04 07:31:37,123 INFO [main] request handled seq=1234"}`, 14000)) // about 1 MiB
	// The writer is pooled: later frames must be whole too.
	for range 3 {
		var dst bytes.Buffer
		out, codec := c.Compress(&dst, src)
		if codec != kgo.CodecLz4 || len(out) >= len(src) {
			t.Fatalf("codec %v, %d bytes from %d", codec, len(out), len(src))
		}
		// Frame: magic (4 bytes), FLG, BD; BD's bits 4-6 are the block
		// size: 5 is 256 KiB (7, lz4's default, is 4 MiB).
		if got := out[5] >> 4 & 7; got != 5 {
			t.Fatalf("block size code %d, want 5 (256 KiB)", got)
		}
		back, err := kgo.DefaultDecompressor().Decompress(out, kgo.CodecLz4)
		if err != nil || !bytes.Equal(back, src) {
			t.Fatalf("decompressed %d bytes (err %v), want the %d compressed", len(back), err, len(src))
		}
	}
}

func TestCompressorOfOtherCodecs(t *testing.T) {
	for _, name := range []string{"gzip", "snappy", "zstd"} {
		c, err := Compressor(name)
		if err != nil || c == nil {
			t.Fatalf("%s: %v", name, err)
		}
		var dst bytes.Buffer
		if _, codec := c.Compress(&dst, bytes.Repeat([]byte("brun "), 1000)); codec == kgo.CodecNone {
			t.Errorf("%s: not compressed", name)
		}
	}
	if c, err := Compressor("none"); err != nil || c != nil {
		t.Errorf("none: compressor %v, err %v; want none", c, err)
	}
}
