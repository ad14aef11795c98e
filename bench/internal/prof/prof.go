// Package prof starts the CPU profiles the benchmark drivers take with
// --cpuprofile.
package prof

import (
	"os"
	"runtime/pprof"
	"sync"
)

// CPU starts a CPU profile written to path; with path "" it does nothing.
// The returned stop ends the profile and closes the file; it may be
// called more than once (a deferred call after an explicit one is fine).
func CPU(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}
