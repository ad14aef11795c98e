//go:build race

package e2e

// raceEnabled: this test binary is built with the race detector, whose
// shadow memory makes a process's resident size several times what the
// program itself uses.
const raceEnabled = true
