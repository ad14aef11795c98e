// Package intents is the durable table of capture intents: the records of
// calls a capture gateway or middleware is about to forward, committed
// before the call goes on, each with a lease. A call's final record
// replaces its intent ([Local.Complete]); an intent whose lease runs out
// first is ingested as the call's record, its outcome unknown, by the
// [Reaper].
//
// The table is an append-only journal in the data directory
// (intents.journal, format in docs/storage.md), group-committed: the
// entries of every caller waiting at the moment are written together
// and fsynced once, and only then acknowledged, so an acknowledged
// intent survives kill -9 and power loss. The live intents' keys,
// accounts and leases are kept in memory (the records stay on disk and
// are read back by the reaper); the journal is rewritten with only the
// live intents once it has grown well past them.
//
// A Table is safe for concurrent use. The package sits above the
// ingester (floor 3); internal/server wires it, and internal/native
// serves it over HTTP through an interface of its own.
package intents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// FileName is the journal's name in the data directory.
const FileName = "intents.journal"

// ErrClosed is returned by calls on a closed Table.
var ErrClosed = errors.New("the intent table is closed")

// ErrIDTaken is returned by Put for an eventID already held by an intent
// of another account.
var ErrIDTaken = errors.New("eventID already taken by an intent of another account")

// Intent is one call's intent record.
type Intent struct {
	EventID string
	Account string // recipientAccountId
	Expires time.Time
	Record  []byte // the compact CloudTrail record
}

// Options tune a Table; the zero value is usable.
type Options struct {
	// CompactBytes is the journal size past which it is rewritten with
	// only the live intents, once they take less than a quarter of it
	// (default 64 MiB).
	CompactBytes int64
	Logger       *slog.Logger // nil means slog.Default()
}

// Table is the durable intent table. Create it with Open.
type Table struct {
	path string
	opts Options
	log  *slog.Logger

	reqs     chan *request // unbuffered: the writer takes what waits
	quit     chan struct{}
	stopped  chan struct{}
	quitOnce sync.Once

	mu        sync.RWMutex
	f         *os.File
	live      map[string]*slot
	liveBytes int64 // bytes the live intents' put entries take
	size      int64 // bytes of the journal (written by the writer only)
	broken    error // set when a failed write could not be undone
}

// slot is a live intent: where its record is and its lease.
type slot struct {
	account  string
	expires  int64 // Unix nanoseconds
	recOff   int64
	recLen   int
	entryLen int64
}

// request is one caller's operation, waiting for a group commit.
type request struct {
	op      byte
	intents []Intent
	ids     []string
	expiry  int64
	check   func(account string) error
	renewed int
	done    chan error
}

// Open opens (or creates) the journal in dir and replays it: entries past
// the last whole, intact one (a write torn by a crash, never
// acknowledged) are cut off.
func Open(dir string, opts Options) (*Table, error) {
	if opts.CompactBytes <= 0 {
		opts.CompactBytes = 64 << 20
	}
	t := &Table{path: filepath.Join(dir, FileName), opts: opts, log: opts.Logger, live: map[string]*slot{},
		reqs: make(chan *request), quit: make(chan struct{}), stopped: make(chan struct{})}
	if t.log == nil {
		t.log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open intent journal: %w", err)
	}
	os.Remove(t.path + ".tmp") // an interrupted rewrite; the journal itself is whole
	f, err := os.OpenFile(t.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open intent journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open intent journal: %w", err)
	}
	if fi.Size() == 0 {
		if _, err := f.Write([]byte(magic)); err != nil {
			f.Close()
			return nil, fmt.Errorf("create intent journal: %w", err)
		}
		if err := syncFileAndDir(f, dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("create intent journal: %w", err)
		}
		t.size = int64(len(magic))
	} else {
		good, err := scan(f, fi.Size(), t.replay)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open intent journal: %w; move it aside to start without its intents", err)
		}
		if good < fi.Size() {
			t.log.Warn("intent journal: cutting off a torn or damaged tail (never acknowledged)",
				"path", t.path, "offset", good, "bytes", fi.Size()-good)
			if err := f.Truncate(good); err != nil {
				f.Close()
				return nil, fmt.Errorf("cut the intent journal's torn tail: %w", err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return nil, fmt.Errorf("cut the intent journal's torn tail: %w", err)
			}
		}
		t.size = good
	}
	if _, err := f.Seek(t.size, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("open intent journal: %w", err)
	}
	t.f = f
	go t.writer()
	return t, nil
}

// replay applies one journal entry to the live set.
func (t *Table) replay(e entry) {
	switch e.op {
	case opPut:
		t.setLive(e.ids[0], &slot{account: e.account, expires: e.expiry, recOff: e.recOff, recLen: e.recLen, entryLen: 8 + int64(e.n)})
	case opRenew:
		for _, id := range e.ids {
			if s := t.live[id]; s != nil {
				s.expires = e.expiry
			}
		}
	case opDelete:
		for _, id := range e.ids {
			t.dropLive(id)
		}
	}
}

func (t *Table) setLive(id string, s *slot) {
	t.dropLive(id)
	t.live[id] = s
	t.liveBytes += s.entryLen
}

func (t *Table) dropLive(id string) {
	if old := t.live[id]; old != nil {
		t.liveBytes -= old.entryLen
		delete(t.live, id)
	}
}

// Put commits intents and returns once they are fsynced. An intent whose
// eventID is live already is replaced (a retry) if it has the same
// account, and refused with ErrIDTaken otherwise; then none of ins is
// stored. If ctx ends first, Put returns ctx's error, and the intents may
// or may not have been stored.
func (t *Table) Put(ctx context.Context, ins []Intent) error {
	if len(ins) == 0 {
		return nil
	}
	for i := range ins {
		if ins[i].EventID == "" {
			return fmt.Errorf("intent %d has no eventID", i+1)
		}
		if len(ins[i].Record) > maxEntry-1024 {
			return fmt.Errorf("intent %s: the record is %d bytes, more than an intent may hold", ins[i].EventID, len(ins[i].Record))
		}
	}
	return t.do(ctx, &request{op: opPut, intents: ins})
}

// Renew sets the lease of each live intent among ids to expire at
// expires, after check (nil: none) accepted the intent's account, and
// returns how many it renewed once that is fsynced. IDs with no live
// intent (completed, reaped or unknown) are skipped. An error from check
// is returned as it is, and nothing is renewed.
func (t *Table) Renew(ctx context.Context, ids []string, expires time.Time, check func(account string) error) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	r := &request{op: opRenew, ids: ids, expiry: expires.UnixNano(), check: check}
	if err := t.do(ctx, r); err != nil {
		return 0, err
	}
	return r.renewed, nil
}

// Delete drops the intents of ids (unknown ones are skipped) and returns
// once that is fsynced.
func (t *Table) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return t.do(ctx, &request{op: opDelete, ids: ids})
}

func (t *Table) do(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	select {
	case t.reqs <- r:
	case <-t.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Expired returns up to limit (0: all) intents whose lease ran out at or before now,
// those that expired first first, with their records.
func (t *Table) Expired(now time.Time, limit int) ([]Intent, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.f == nil {
		return nil, ErrClosed
	}
	n := now.UnixNano()
	type cand struct {
		id string
		s  *slot
	}
	var cs []cand
	for id, s := range t.live {
		if s.expires <= n {
			cs = append(cs, cand{id, s})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.s.expires, b.s.expires), cmp.Compare(a.id, b.id))
	})
	if limit > 0 && len(cs) > limit {
		cs = cs[:limit]
	}
	out := make([]Intent, 0, len(cs))
	for _, c := range cs {
		rec := make([]byte, c.s.recLen)
		if _, err := t.f.ReadAt(rec, c.s.recOff); err != nil {
			return out, fmt.Errorf("read intent %s from the journal: %w", c.id, err)
		}
		out = append(out, Intent{EventID: c.id, Account: c.s.account, Expires: time.Unix(0, c.s.expires).UTC(), Record: rec})
	}
	return out, nil
}

// Lookup returns the account and lease expiry of the live intent id.
func (t *Table) Lookup(id string) (account string, expires time.Time, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.live[id]
	if s == nil {
		return "", time.Time{}, false
	}
	return s.account, time.Unix(0, s.expires).UTC(), true
}

// Len is the number of live intents.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.live)
}

// Close stops the writer (calls waiting get ErrClosed) and closes the
// journal. It is safe to call more than once.
func (t *Table) Close() error {
	t.quitOnce.Do(func() { close(t.quit) })
	<-t.stopped
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// writer takes the requests waiting, commits them together, and answers
// them; it runs until Close.
func (t *Table) writer() {
	defer close(t.stopped)
	for {
		var first *request
		select {
		case first = <-t.reqs:
		case <-t.quit:
			return
		}
		batch := []*request{first}
	drain:
		for len(batch) < 1024 {
			select {
			case r := <-t.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		t.commit(batch)
	}
}

// change is what a committed request does to the live set.
type change struct {
	op     byte
	id     string
	slot   *slot
	expiry int64
}

// commit writes the batch's entries, fsyncs once, applies them and
// answers each request.
func (t *Table) commit(batch []*request) {
	t.mu.RLock()
	broken := t.broken
	t.mu.RUnlock()
	if broken != nil {
		for _, r := range batch {
			r.done <- broken
		}
		return
	}
	// pending is the live set as the batch's earlier requests leave it:
	// an account, or "" for an intent dropped in this batch.
	pending := map[string]string{}
	accountOf := func(id string) (string, bool) {
		if a, ok := pending[id]; ok {
			return a, a != ""
		}
		t.mu.RLock()
		s := t.live[id]
		t.mu.RUnlock()
		if s == nil {
			return "", false
		}
		return s.account, true
	}
	var buf []byte
	var changes []change
	errs := make([]error, len(batch))
	for i, r := range batch {
		mark, nchanges := len(buf), len(changes)
		undo := map[string]*string{}
		save := func(id string) {
			if _, ok := undo[id]; !ok {
				if a, ok := pending[id]; ok {
					undo[id] = &a
				} else {
					undo[id] = nil
				}
			}
		}
		fail := func(err error) {
			errs[i] = err
			buf, changes = buf[:mark], changes[:nchanges]
			for id, a := range undo {
				if a == nil {
					delete(pending, id)
				} else {
					pending[id] = *a
				}
			}
		}
		switch r.op {
		case opPut:
			for j := range r.intents {
				in := &r.intents[j]
				if acct, ok := accountOf(in.EventID); ok && acct != in.Account {
					fail(fmt.Errorf("intent %s (account %s): %w", in.EventID, in.Account, ErrIDTaken))
					break
				}
				p, recOff := putPayload(in)
				at := t.size + int64(len(buf))
				buf = appendEntry(buf, p)
				save(in.EventID)
				pending[in.EventID] = in.Account
				changes = append(changes, change{op: opPut, id: in.EventID, slot: &slot{account: in.Account,
					expires: in.Expires.UnixNano(), recOff: at + 8 + int64(recOff), recLen: len(in.Record), entryLen: 8 + int64(len(p))}})
			}
		case opRenew:
			var ids []string
			for _, id := range r.ids {
				acct, ok := accountOf(id)
				if !ok {
					continue
				}
				if r.check != nil {
					if err := r.check(acct); err != nil {
						fail(err)
						ids = nil
						break
					}
				}
				ids = append(ids, id)
			}
			if errs[i] != nil {
				continue
			}
			for _, p := range idsPayloads(opRenew, r.expiry, ids) {
				buf = appendEntry(buf, p)
			}
			for _, id := range ids {
				changes = append(changes, change{op: opRenew, id: id, expiry: r.expiry})
			}
			r.renewed = len(ids)
		case opDelete:
			var ids []string
			for _, id := range r.ids {
				if _, ok := accountOf(id); ok {
					ids = append(ids, id)
					save(id)
					pending[id] = ""
				}
			}
			for _, p := range idsPayloads(opDelete, 0, ids) {
				buf = appendEntry(buf, p)
			}
			for _, id := range ids {
				changes = append(changes, change{op: opDelete, id: id})
			}
		}
	}
	if len(buf) > 0 {
		if err := t.append(buf); err != nil {
			for i, r := range batch {
				if errs[i] == nil {
					r.done <- err
				} else {
					r.done <- errs[i]
				}
			}
			return
		}
	}
	t.mu.Lock()
	for _, c := range changes {
		switch c.op {
		case opPut:
			t.setLive(c.id, c.slot)
		case opRenew:
			if s := t.live[c.id]; s != nil {
				s.expires = c.expiry
			}
		case opDelete:
			t.dropLive(c.id)
		}
	}
	t.mu.Unlock()
	for i, r := range batch {
		r.done <- errs[i]
	}
	if t.size > t.opts.CompactBytes && t.size > 4*t.liveBytes {
		if err := t.rewrite(); err != nil {
			t.log.Error("intent journal: rewrite failed; it keeps growing until the next try", "path", t.path, "err", err)
		}
	}
}

// append writes buf at the journal's end and fsyncs it. On failure the
// journal is cut back to where it was, so that what was not acknowledged
// never comes back; if even that fails, the table refuses writes until
// it is reopened.
func (t *Table) append(buf []byte) error {
	_, err := t.f.Write(buf)
	if err == nil {
		err = t.f.Sync()
	}
	if err == nil {
		t.size += int64(len(buf))
		return nil
	}
	err = fmt.Errorf("write the intent journal %s: %w", t.path, err)
	if terr := t.f.Truncate(t.size); terr != nil {
		t.fail(fmt.Errorf("%w; cutting it back failed too (%v): restart the server", err, terr))
		return err
	}
	if _, serr := t.f.Seek(t.size, 0); serr != nil {
		t.fail(fmt.Errorf("%w; seeking back failed too (%v): restart the server", err, serr))
		return err
	}
	if serr := t.f.Sync(); serr != nil {
		t.fail(fmt.Errorf("%w; syncing the cut failed too (%v): restart the server", err, serr))
	}
	return err
}

func (t *Table) fail(err error) {
	t.log.Error("intent journal unusable", "err", err)
	t.mu.Lock()
	t.broken = err
	t.mu.Unlock()
}

// rewrite replaces the journal with one holding only the live intents:
// written to a temporary file, fsynced, renamed over the journal, and the
// directory fsynced. It runs in the writer, so nothing appends meanwhile.
func (t *Table) rewrite() error {
	t.mu.RLock()
	ids := make([]string, 0, len(t.live))
	for id := range t.live {
		ids = append(ids, id)
	}
	t.mu.RUnlock()
	slices.Sort(ids)
	tmp := t.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	buf := []byte(magic)
	slots := make(map[string]*slot, len(ids))
	var liveBytes int64
	t.mu.RLock()
	for _, id := range ids {
		s := t.live[id]
		rec := make([]byte, s.recLen)
		if _, err := t.f.ReadAt(rec, s.recOff); err != nil {
			t.mu.RUnlock()
			return fail(fmt.Errorf("read intent %s: %w", id, err))
		}
		p, recOff := putPayload(&Intent{EventID: id, Account: s.account, Expires: time.Unix(0, s.expires), Record: rec})
		ns := *s
		ns.recOff = int64(len(buf)) + 8 + int64(recOff)
		ns.entryLen = 8 + int64(len(p))
		liveBytes += ns.entryLen
		slots[id] = &ns
		buf = appendEntry(buf, p)
	}
	t.mu.RUnlock()
	if _, err := nf.Write(buf); err != nil {
		return fail(err)
	}
	if err := nf.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(t.path)); err != nil {
		// The rename happened; the new file is complete either way.
		t.log.Warn("intent journal: fsync of the directory after a rewrite failed", "err", err)
	}
	if _, err := nf.Seek(int64(len(buf)), 0); err != nil {
		nf.Close()
		t.fail(fmt.Errorf("seek the rewritten intent journal: %w: restart the server", err))
		return err
	}
	t.mu.Lock()
	old := t.f
	t.f = nf
	t.size = int64(len(buf))
	t.live = slots
	t.liveBytes = liveBytes
	t.mu.Unlock()
	old.Close()
	return nil
}

func syncFileAndDir(f *os.File, dir string) error {
	if err := f.Sync(); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
