// Package prof starts the CPU profiles the benchmark drivers take with
// --cpuprofile, and reads the load average they report beside their
// figures.
package prof

import (
	"os"
	"runtime/pprof"
	"strings"
	"sync"
)

// LoadAvg is the machine's 1-, 5- and 15-minute load average
// ("unknown" when /proc/loadavg cannot be read).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

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
