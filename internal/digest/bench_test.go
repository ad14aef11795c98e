package digest_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// BenchmarkValidate validates a 2,000-file trail (40 digests of 50 log
// files of about 200 events) held in memory. Its throughput, in
// uncompressed bytes, is bounded by inflating and hashing on every CPU;
// compare BenchmarkHashGzip, one CPU's.
func BenchmarkValidate(b *testing.B) {
	testKeys(b)
	f := &fixture{trail: corpusTrail, t0: corpusT0, n: 40, seed: 9, logs: 50, events: 200, signer: corpusSigner}
	bt := f.build(b)
	src := &memSource{bucket: corpusTrail.Bucket, objects: bt.objects, keys: corpusKeys()}
	var size int64
	for _, d := range bt.digests {
		for _, l := range d.logs {
			plain, _ := digest.Gunzip(bt.objects[l].data)
			size += int64(len(plain))
		}
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		sum, err := digest.Validate(context.Background(), src, corpusTrail, digest.Options{Start: corpusT0, End: corpusT0.Add(40 * time.Hour)}, nil)
		if err != nil || sum.Invalid() || sum.LogsValid != 2000 {
			b.Fatalf("Validate = %+v, %v", sum, err)
		}
	}
}

// BenchmarkHashGzip inflates and hashes one log file on one CPU.
func BenchmarkHashGzip(b *testing.B) {
	var plain bytes.Buffer
	for plain.Len() < 1<<20 {
		plain.WriteString(`{"eventVersion":"1.11","eventTime":"2026-03-02T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","requestID":"`)
		plain.WriteString(time.Duration(plain.Len()).String())
		plain.WriteString(`"},`)
	}
	gz := digest.Gzip(plain.Bytes())
	b.SetBytes(int64(plain.Len()))
	for b.Loop() {
		if _, err := digest.HashGzip(bytes.NewReader(gz)); err != nil {
			b.Fatal(err)
		}
	}
}
