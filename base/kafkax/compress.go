package kafkax

import (
	"bytes"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lz4Block is the block size of brun's lz4 frames. franz-go's own lz4
// writer uses lz4's default of 4 MiB, and a reader of the frame takes a
// buffer of the block size the frame declares: three 4 MiB buffers were
// a third of the agent's and a tenth of the transfer's heap for produce
// batches of at most kafka.batch.bytes (1 MiB by default). 256 KiB blocks
// compress as well (lz4 looks back 64 KiB at most) and are read by any
// Kafka client.
const lz4Block = lz4.Block256Kb

// Compressor returns the producer's compressor for kafka.compression:
// franz-go's own for every codec but lz4, which gets lz4Block frames.
func Compressor(name string) (kgo.Compressor, error) {
	if name != "lz4" {
		return kgo.DefaultCompressor(Compression(name))
	}
	return &lz4Compressor{}, nil
}

type lz4Compressor struct{ pool sync.Pool }

// Compress writes src as one lz4 frame into dst.
func (c *lz4Compressor) Compress(dst *bytes.Buffer, src []byte, _ ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	w, _ := c.pool.Get().(*lz4.Writer)
	if w == nil {
		w = lz4.NewWriter(dst)
		if err := w.Apply(lz4.BlockSizeOption(lz4Block), lz4.CompressionLevelOption(lz4.Fast)); err != nil {
			return src, kgo.CodecNone // not expected: the options are constants
		}
	} else {
		w.Reset(dst)
	}
	defer c.pool.Put(w)
	if _, err := w.Write(src); err != nil {
		return src, kgo.CodecNone
	}
	if err := w.Close(); err != nil {
		return src, kgo.CodecNone
	}
	return dst.Bytes(), kgo.CodecLz4
}
