package objstore_test

import (
	"testing"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
)

func TestMemoryConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return objstore.NewMemory() })
}
