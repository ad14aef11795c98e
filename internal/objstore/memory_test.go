package objstore_test

import (
	"fmt"
	"testing"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
)

func TestMemoryConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstore.NewMemory() })
}

func TestAllPagesThroughList(t *testing.T) {
	ctx := t.Context()
	b := objstore.NewMemory()
	for i := range 2500 {
		if err := b.Put(ctx, fmt.Sprintf("p/%05d", i), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Put(ctx, "q/other", []byte("x"), nil)
	n := 0
	for in, err := range objstore.All(ctx, b, "p/") {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("p/%05d", n); in.Key != want {
			t.Fatalf("object %d is %s, want %s", n, in.Key, want)
		}
		n++
	}
	if n != 2500 {
		t.Fatalf("%d objects, want 2500 (three pages)", n)
	}
	n = 0
	for range objstore.All(ctx, b, "") {
		if n++; n == 3 {
			break
		}
	}
}
