package objstore_test

import (
	"testing"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
)

func TestFSConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		b, err := objstore.OpenFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
