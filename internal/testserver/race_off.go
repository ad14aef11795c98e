//go:build !race

package testserver

// RaceEnabled reports that this binary was built with the race detector.
const RaceEnabled = false
