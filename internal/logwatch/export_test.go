package logwatch

// SetBatches sets the consumer's batch bounds until the test ends.
func SetBatches(t interface{ Cleanup(func()) }, lo, hi int64) {
	oldLo, oldHi := readBatch, maxReadBatch
	readBatch, maxReadBatch = lo, hi
	t.Cleanup(func() { readBatch, maxReadBatch = oldLo, oldHi })
}

// CursorEvery is how long the consumer goes without saving its cursor
// while behind.
const CursorEvery = cursorEvery
