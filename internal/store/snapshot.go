package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Snapshots of the in-memory sets. Open would otherwise read every
// eid_hash in events and every row of lookup_days (seconds and hundreds of
// megabytes at ten million events); instead it reads each set's slot
// array back from a file written from memory, checks it, and tops it up
// from the events committed after the snapshot's sequence number. A
// missing, torn or damaged snapshot falls back to the full load.
//
// File layout (little-endian), docs/storage.md "Set snapshots":
//
//	 0  [8]byte magic "OTSNAP\x00\x01"
//	 8  uint32  kind (1 eventID hashes, 2 day-index pairs)
//	12  uint32  flags (bit 0: hash 0 is in the set)
//	16  int64   seq: every event with a smaller or equal seq is covered
//	24  uint64  elements (not counting hash 0)
//	32  uint64  slots
//	40  int64   aux: for day pairs, min(day) of lookup_days when written
//	48  uint32  CRC-32C of the slot array
//	52  uint32  CRC-32C of bytes 0..51
//	56  [8]byte zero
//	64  slots × uint64, the set's open-addressing array as it was in memory
//
// The eventID set may hold more than the stored events (hashes of events
// retention deleted): dedupe settles every hit against the stored records,
// so a stale hash costs a query, never an event. The day-pair set must not
// hold a pair lookup_days lacks (its appends would be skipped), so its
// snapshot records min(day) of lookup_days and is used only while that is
// unchanged: retention, the only thing that deletes index rows, raises it.

const (
	snapMagic      = "OTSNAP\x00\x01"
	snapHeaderSize = 64
	snapKindIDs    = 1
	snapKindDays   = 2
	snapFlagZero   = 1

	// IDSnapshotFile and DaySnapshotFile are the snapshot files in the
	// data directory.
	IDSnapshotFile  = "ids.snap"
	DaySnapshotFile = "days.snap"
)

// Snapshot policy; variables so that tests can shorten them.
var (
	// snapshotCheck is how often the background saver looks.
	snapshotCheck = 15 * time.Second
	// snapshotEvery is how many events committed since the last snapshot
	// make the saver write a new one: a crash costs Open a top-up of at
	// most about this many events.
	snapshotEvery int64 = 1_000_000
	// snapshotMaxAge is how long the saver lets fewer events wait.
	snapshotMaxAge = 10 * time.Minute
	// snapshotChunk is how many slots are copied per hold of the writer
	// lock while a snapshot is written, so appends wait microseconds.
	snapshotChunk = 1 << 17
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapHeader is a snapshot file's header.
type snapHeader struct {
	kind     uint32
	flags    uint32
	seq      int64
	elements uint64
	slots    uint64
	aux      int64
	dataCRC  uint32
}

func (h *snapHeader) encode() []byte {
	b := make([]byte, snapHeaderSize)
	copy(b, snapMagic)
	binary.LittleEndian.PutUint32(b[8:], h.kind)
	binary.LittleEndian.PutUint32(b[12:], h.flags)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.seq))
	binary.LittleEndian.PutUint64(b[24:], h.elements)
	binary.LittleEndian.PutUint64(b[32:], h.slots)
	binary.LittleEndian.PutUint64(b[40:], uint64(h.aux))
	binary.LittleEndian.PutUint32(b[48:], h.dataCRC)
	binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(b[:52], castagnoli))
	return b
}

func decodeSnapHeader(b []byte) (snapHeader, error) {
	var h snapHeader
	if len(b) < snapHeaderSize || string(b[:8]) != snapMagic {
		return h, errors.New("not a set snapshot (bad magic)")
	}
	if crc32.Checksum(b[:52], castagnoli) != binary.LittleEndian.Uint32(b[52:]) {
		return h, errors.New("header checksum mismatch")
	}
	h.kind = binary.LittleEndian.Uint32(b[8:])
	h.flags = binary.LittleEndian.Uint32(b[12:])
	h.seq = int64(binary.LittleEndian.Uint64(b[16:]))
	h.elements = binary.LittleEndian.Uint64(b[24:])
	h.slots = binary.LittleEndian.Uint64(b[32:])
	h.aux = int64(binary.LittleEndian.Uint64(b[40:]))
	h.dataCRC = binary.LittleEndian.Uint32(b[48:])
	if h.slots < 1 || h.slots > 1<<36 {
		return h, fmt.Errorf("slot count %d is out of range", h.slots)
	}
	if h.elements*5 > h.slots*idSetMaxLoad {
		return h, fmt.Errorf("%d elements in %d slots is over the load factor", h.elements, h.slots)
	}
	return h, nil
}

// slotBytes views a slot array as bytes (the file's little-endian order
// on little-endian machines; bigEndian converts on the others).
func slotBytes(s []uint64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8)
}

var bigEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 0 }()

func swapSlots(s []uint64) {
	for i, v := range s {
		s[i] = bits.ReverseBytes64(v)
	}
}

// readSnapshot reads and checks a snapshot file of the given kind.
func readSnapshot(path string, kind uint32) (*idSet, snapHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, snapHeader{}, err
	}
	defer f.Close()
	hb := make([]byte, snapHeaderSize)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, snapHeader{}, fmt.Errorf("read header: %w", err)
	}
	h, err := decodeSnapHeader(hb)
	if err != nil {
		return nil, h, err
	}
	if h.kind != kind {
		return nil, h, fmt.Errorf("kind %d, want %d", h.kind, kind)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, h, err
	}
	if want := int64(snapHeaderSize + h.slots*8); fi.Size() != want {
		return nil, h, fmt.Errorf("file is %d bytes, its header says %d", fi.Size(), want)
	}
	set := &idSet{slots: make([]uint64, h.slots), n: int(h.elements), zero: h.flags&snapFlagZero != 0}
	b := slotBytes(set.slots)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, h, fmt.Errorf("read slots: %w", err)
	}
	if crc32.Checksum(b, castagnoli) != h.dataCRC {
		return nil, h, errors.New("slot checksum mismatch")
	}
	if bigEndian {
		swapSlots(set.slots)
	}
	return set, h, nil
}

// snapState is the Store's record of its snapshots.
type snapState struct {
	st   *Store
	mu   sync.Mutex            // one snapshot written at a time
	seq  atomic.Int64          // seq the snapshots on disk cover; -1 when none is usable
	days atomic.Pointer[idSet] // the day-pair set they were written from
	at   atomic.Int64          // when the last was written (or found current), Unix ns
	stop chan struct{}         // closes to stop the background saver
	done chan struct{}         // closed when it has stopped
}

// errSetChanged means a set was replaced or grew while its snapshot was
// being copied; the snapshot is started again.
var errSetChanged = errors.New("set changed while being written")

// writeSnapshot writes set to path (through a temporary file, fsynced,
// renamed; the caller fsyncs the directory). get returns the set the
// store holds now; each chunk of slots is copied holding the writer lock
// (which the caller must not hold), and the copy gives up with
// errSetChanged if the set was replaced or reallocated meanwhile. Slots
// filled after h.seq may or may not be included: either way the set
// written holds every element of the events through h.seq, and only
// elements of committed events.
func (sn *snapState) writeSnapshot(path string, h snapHeader, set *idSet, get func() *idSet) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	defer func() {
		if f != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(make([]byte, snapHeaderSize)); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	n := len(set.slots)
	buf := make([]uint64, min(n, snapshotChunk))
	var (
		crc      uint32
		elements uint64
		zero     bool
	)
	for off := 0; off < n; off += len(buf) {
		chunk := buf[:min(len(buf), n-off)]
		sn.st.wmu.Lock()
		same := get() == set && len(set.slots) == n
		if same {
			copy(chunk, set.slots[off:])
			zero = zero || set.zero
		}
		sn.st.wmu.Unlock()
		if !same {
			return errSetChanged
		}
		for _, v := range chunk {
			if v != 0 {
				elements++
			}
		}
		if bigEndian {
			swapSlots(chunk)
		}
		b := slotBytes(chunk)
		crc = crc32.Update(crc, castagnoli, b)
		if _, err := f.Write(b); err != nil {
			return fmt.Errorf("write snapshot %s: %w", tmp, err)
		}
	}
	h.slots, h.elements, h.dataCRC = uint64(n), elements, crc
	if zero {
		h.flags |= snapFlagZero
	}
	if _, err := f.WriteAt(h.encode(), 0); err != nil {
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync snapshot %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		f = nil
		os.Remove(tmp)
		return fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	f = nil
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// minIndexedDay is min(day) of lookup_days, math.MinInt64 when it is
// empty.
func (sn *snapState) minIndexedDay(ctx context.Context) (int64, error) {
	var d sql.NullInt64
	if err := sn.st.db.QueryRowContext(ctx, `SELECT min(day) FROM lookup_days`).Scan(&d); err != nil {
		return 0, fmt.Errorf("read first indexed day: %w", err)
	}
	if !d.Valid {
		return math.MinInt64, nil
	}
	return d.Int64, nil
}

// saveIDSnapshot writes snapshots of the eventID set and the day-pair set
// covering every event committed when it starts, fsynced, replacing the
// previous ones. Appends go on meanwhile (the writer lock is held a few
// microseconds at a time). Anything that removes events from the events
// table for good (the cold tier's compaction) calls it first, so the
// snapshot keeps their hashes. It must not be called holding s.wmu.
func (sn *snapState) saveIDSnapshot(ctx context.Context) error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	var err error
	for range 5 {
		if err = sn.saveSnapshotsOnce(ctx); !errors.Is(err, errSetChanged) {
			break
		}
	}
	return err
}

func (sn *snapState) saveSnapshotsOnce(ctx context.Context) error {
	start := time.Now()
	sn.st.wmu.Lock()
	if sn.st.ids == nil || sn.st.days == nil {
		sn.st.wmu.Unlock()
		return errors.New("write snapshot: the store is not open")
	}
	seq := sn.st.nextSeq - 1
	ids, days := sn.st.ids, sn.st.days
	minDay, err := sn.minIndexedDay(ctx)
	sn.st.wmu.Unlock()
	if err != nil {
		return err
	}
	if err := sn.writeSnapshot(filepath.Join(sn.st.dir, IDSnapshotFile), snapHeader{kind: snapKindIDs, seq: seq},
		ids, func() *idSet { return sn.st.ids }); err != nil {
		return err
	}
	if err := sn.writeSnapshot(filepath.Join(sn.st.dir, DaySnapshotFile), snapHeader{kind: snapKindDays, seq: seq, aux: minDay},
		days, func() *idSet { return sn.st.days }); err != nil {
		return err
	}
	if err := syncDir(sn.st.dir); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	sn.seq.Store(seq)
	sn.days.Store(days)
	sn.at.Store(time.Now().UnixNano())
	sn.st.log.Debug("wrote set snapshots", "seq", seq, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// openIDs loads the eventID set from its snapshot and the events after
// it, or (no usable snapshot) from every stored event through loadIDs.
// A snapshot covering sequence numbers beyond the last stored event (the
// newest events were deleted) moves the next sequence number past it, so
// that numbers are never given twice.
func (sn *snapState) openIDs(ctx context.Context) (*idSet, error) {
	os.Remove(filepath.Join(sn.st.dir, IDSnapshotFile+".tmp"))
	os.Remove(filepath.Join(sn.st.dir, DaySnapshotFile+".tmp"))
	start := time.Now()
	path := filepath.Join(sn.st.dir, IDSnapshotFile)
	ids, h, err := readSnapshot(path, snapKindIDs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			sn.st.log.Debug("no eventID snapshot; loading eventIDs from the events table", "file", path)
		} else {
			sn.st.log.Warn("eventID snapshot unusable; loading eventIDs from the events table (slower start-up; a new snapshot is written soon)", "file", path, "err", err)
		}
		sn.seq.Store(-1) // write a new snapshot soon
		ids, err := sn.st.loadIDs(ctx)
		if err == nil {
			sn.st.log.Debug("loaded eventIDs", "events", ids.n, "took", time.Since(start).Round(time.Millisecond))
		}
		return ids, err
	}
	rows, err := sn.st.db.QueryContext(ctx, `SELECT eid_hash FROM events WHERE seq > ?`, h.seq)
	if err != nil {
		return nil, fmt.Errorf("load event ids after the snapshot: %w", err)
	}
	defer rows.Close()
	added := 0
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("load event ids after the snapshot: %w", err)
		}
		ids.add(uint64(v))
		added++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load event ids after the snapshot: %w", err)
	}
	// Events compacted after the snapshot was written have left the
	// events table for the columnar files.
	if h.seq < sn.st.cold.through {
		if err := sn.st.cold.idsAfter(ctx, h.seq, func(v uint64) { ids.add(v); added++ }); err != nil {
			return nil, err
		}
	}
	if h.seq >= sn.st.nextSeq {
		sn.st.log.Warn("the eventID snapshot covers sequence numbers past the last stored event; new events are numbered after it", "snapshot_seq", h.seq, "last_stored_seq", sn.st.nextSeq-1)
		sn.st.nextSeq = h.seq + 1
		sn.st.lastSeq.Store(h.seq)
	}
	sn.seq.Store(h.seq)
	if added == 0 {
		sn.at.Store(time.Now().UnixNano())
	}
	sn.st.log.Debug("loaded eventIDs from snapshot", "snapshot_seq", h.seq, "from_snapshot", h.elements, "after_snapshot", added, "took", time.Since(start).Round(time.Millisecond))
	return ids, nil
}

// openDays loads the day-pair set from its snapshot, or (no usable
// snapshot, or the index lost rows since) from lookup_days through
// loadDays. The pairs of events committed after the snapshot are not
// added: the set only spares appends from writing a pair lookup_days
// already has, so a pair missing from it costs one duplicate index row
// the first time it comes again, never a missed day, and a crash costs no
// scan of those events.
func (sn *snapState) openDays(ctx context.Context) (*idSet, error) {
	start := time.Now()
	path := filepath.Join(sn.st.dir, DaySnapshotFile)
	days, h, err := readSnapshot(path, snapKindDays)
	if err == nil {
		var minDay int64
		if minDay, err = sn.minIndexedDay(ctx); err != nil {
			return nil, err
		}
		if minDay != h.aux {
			err = fmt.Errorf("the day index's first day is %d, %d when the snapshot was written (retention removed index rows since)", minDay, h.aux)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			sn.st.log.Debug("no day-index snapshot; loading the day index", "file", path)
		} else {
			sn.st.log.Warn("day-index snapshot unusable; loading the day index (slower start-up; a new snapshot is written soon)", "file", path, "err", err)
		}
		sn.seq.Store(-1) // write a new pair of snapshots soon
		return sn.st.loadDays(ctx)
	}
	sn.days.Store(days)
	sn.st.log.Debug("loaded the day index from snapshot", "snapshot_seq", h.seq, "pairs", days.n, "took", time.Since(start).Round(time.Millisecond))
	return days, nil
}

// snapshotDue reports whether the background saver should write now.
func (sn *snapState) snapshotDue() bool {
	sn.st.wmu.Lock()
	days := sn.st.days
	sn.st.wmu.Unlock()
	behind := sn.st.lastSeq.Load() - sn.seq.Load()
	return sn.seq.Load() < 0 || sn.days.Load() != days ||
		behind >= snapshotEvery || (behind > 0 && time.Since(time.Unix(0, sn.at.Load())) >= snapshotMaxAge)
}

// startSnapshots starts the background saver.
func (sn *snapState) startSnapshots() {
	sn.stop = make(chan struct{})
	sn.done = make(chan struct{})
	go func() {
		defer close(sn.done)
		t := time.NewTicker(snapshotCheck)
		defer t.Stop()
		for {
			select {
			case <-sn.stop:
				return
			case <-t.C:
			}
			if !sn.snapshotDue() {
				continue
			}
			if err := sn.saveIDSnapshot(context.Background()); err != nil {
				sn.st.log.Warn("writing the set snapshots failed; the next start-up reads more from the events table", "err", err)
			}
		}
	}()
}

// stopSnapshots stops the background saver and, if events were committed
// (or the day index was reloaded) since the last snapshot, writes a final
// one so that the next Open reads nothing from the tables. Close calls it
// before closing anything.
func (sn *snapState) stopSnapshots() {
	if sn.stop == nil {
		return
	}
	close(sn.stop)
	<-sn.done
	sn.st.wmu.Lock()
	current := sn.seq.Load() == sn.st.nextSeq-1 && sn.days.Load() == sn.st.days
	sn.st.wmu.Unlock()
	if current {
		return
	}
	if err := sn.saveIDSnapshot(context.Background()); err != nil {
		sn.st.log.Warn("writing the set snapshots at close failed; the next start-up reads more from the events table", "err", err)
	}
}
