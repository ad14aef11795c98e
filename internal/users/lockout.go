package users

import (
	"sync"
	"time"
)

// Lockout is how repeated failed sign-ins lock a user name and a source
// address out: after Failures failures in a row, the key is locked for
// Base, then twice as long after each further run of Failures, up to Max.
// A key with no failure for Forget starts over. The zero value means
// DefaultLockout.
type Lockout struct {
	Failures int
	Base     time.Duration
	Max      time.Duration
	Forget   time.Duration
}

// DefaultLockout locks after 5 failures for 1 minute, doubling to at most
// 30 minutes, and forgets a quiet key after an hour.
var DefaultLockout = Lockout{Failures: 5, Base: time.Minute, Max: 30 * time.Minute, Forget: time.Hour}

// maxKeys bounds the lockout table; past it, keys neither locked nor
// failing recently are dropped first.
const maxKeys = 100_000

type lockState struct {
	failures    int // in a row since the last lock
	locks       int // locks so far
	lockedUntil time.Time
	last        time.Time // last failure
}

// lockouts counts failures by key ("user:NAME", "ip:ADDR"), in memory: a
// restart forgets them.
type lockouts struct {
	cfg Lockout
	mu  sync.Mutex
	m   map[string]*lockState
}

func newLockouts(cfg Lockout) *lockouts {
	if cfg.Failures <= 0 {
		cfg = DefaultLockout
	}
	return &lockouts{cfg: cfg, m: map[string]*lockState{}}
}

// locked returns how long the longest lock among keys still lasts at now
// (0 when none is locked).
func (l *lockouts) locked(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		if s, ok := l.m[k]; ok && s.lockedUntil.After(now) {
			d = max(d, s.lockedUntil.Sub(now))
		}
	}
	return d
}

// fail counts a failure for each key and returns how long the longest
// lock it started lasts (0 when none).
func (l *lockouts) fail(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxKeys {
		l.sweepLocked(now)
	}
	var d time.Duration
	for _, k := range keys {
		s := l.m[k]
		if s == nil || now.Sub(s.last) > l.cfg.Forget && !s.lockedUntil.After(now) {
			s = &lockState{}
			l.m[k] = s
		}
		s.last = now
		s.failures++
		if s.failures >= l.cfg.Failures {
			s.failures = 0
			s.locks++
			lock := l.cfg.Base
			for i := 1; i < s.locks && lock < l.cfg.Max; i++ {
				lock *= 2
			}
			lock = min(lock, l.cfg.Max)
			s.lockedUntil = now.Add(lock)
			d = max(d, lock)
		}
	}
	return d
}

// reset forgets keys (a successful sign-in, an administrator's unlock).
func (l *lockouts) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

func (l *lockouts) sweepLocked(now time.Time) {
	for k, s := range l.m {
		if !s.lockedUntil.After(now) && now.Sub(s.last) > l.cfg.Base {
			delete(l.m, k)
		}
	}
	for k, s := range l.m { // still full: drop whatever is not locked
		if len(l.m) < maxKeys {
			break
		}
		if !s.lockedUntil.After(now) {
			delete(l.m, k)
		}
	}
}

func userKey(name string) string { return "user:" + name }
func ipKey(ip string) string     { return "ip:" + ip }
