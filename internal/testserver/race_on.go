//go:build race

package testserver

// RaceEnabled reports that this binary was built with the race detector,
// whose shadow memory makes a process's resident size several times what
// the program itself uses.
const RaceEnabled = true
