// Command zst compares record-block compression settings (side experiment).
package main

import (
	"bytes"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/demo"
)

func main() {
	const n = 200_000
	var recs [][]byte
	end := time.Now().UTC().Truncate(time.Second)
	demo.Generate(demo.Options{Seed: 1, Events: n, Start: end.Add(-60 * 24 * time.Hour), Duration: 60 * 24 * time.Hour}, func(r []byte) error {
		recs = append(recs, bytes.Clone(r))
		return nil
	})
	raw := 0
	for _, r := range recs {
		raw += len(r)
	}
	fmt.Printf("%d records, %.0f bytes/record raw\n", len(recs), float64(raw)/float64(len(recs)))
	// A dictionary trained on an earlier, disjoint sample.
	var dictSample [][]byte
	demo.Generate(demo.Options{Seed: 2, Events: 20000, Start: end.Add(-120 * 24 * time.Hour), Duration: 24 * time.Hour}, func(r []byte) error {
		dictSample = append(dictSample, bytes.Clone(r))
		return nil
	})
	dict, err := zstd.BuildDict(zstd.BuildDictOptions{ID: 1, Contents: dictSample, History: bytes.Join(dictSample[:2000], []byte{'\n'}), Offsets: [3]int{1, 4, 8}, CompatV155: true, Level: zstd.SpeedBestCompression})
	if err != nil {
		fmt.Println("dict:", err)
	}
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		for _, bs := range []int{64, 256, 1024} {
			for _, useDict := range []bool{false, true} {
				if useDict && dict == nil {
					continue
				}
				opts := []zstd.EOption{zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1)}
				if useDict {
					opts = append(opts, zstd.WithEncoderDict(dict))
				}
				enc, _ := zstd.NewWriter(nil, opts...)
				dopts := []zstd.DOption{}
				if useDict {
					dopts = append(dopts, zstd.WithDecoderDicts(dict))
				}
				dec, _ := zstd.NewReader(nil, dopts...)
				total := 0
				var blocks [][]byte
				t := time.Now()
				for i := 0; i < len(recs); i += bs {
					b := enc.EncodeAll(bytes.Join(recs[i:min(i+bs, len(recs))], []byte{'\n'}), nil)
					total += len(b)
					blocks = append(blocks, b)
				}
				encT := time.Since(t)
				t = time.Now()
				for _, b := range blocks[:100] {
					dec.DecodeAll(b, nil)
				}
				decT := time.Since(t) / 100
				fmt.Printf("level %-22v block %5d dict %-5v  %6.1f bytes/record  encode %5.0f MB/s  decode one block %6.0f µs\n",
					lvl, bs, useDict, float64(total)/float64(len(recs)), float64(raw)/encT.Seconds()/1e6, float64(decT.Microseconds()))
			}
		}
	}
}
